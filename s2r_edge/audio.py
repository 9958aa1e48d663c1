"""Audio in: read and check PCM, resample to 16 kHz mono float32, and cut it into model-sized chunks."""

from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import firwin, resample_poly, upfirdn

from s2r_edge.errors import S2RError

SAMPLE_RATE = 16000  # the only rate the encoder accepts
MIN_SECONDS = 0.2  # shorter than this cannot hold a spoken query
SILENCE_RMS = 1e-4  # about -80 dBFS: nothing but digital silence is below it
CLIP_FRACTION = 0.2  # more than this share of samples at full scale means the recording is ruined


def resample(samples: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Resample mono float audio from `rate` to `target` Hz with a polyphase filter."""
    if rate <= 0:
        raise S2RError(f"sample rate must be positive, got {rate}")
    if rate == target:
        return samples.astype(np.float32, copy=False)
    g = gcd(rate, target)
    return resample_poly(samples, target // g, rate // g).astype(np.float32)


class StreamResampler:
    """Resample audio block by block so the joined output equals one `resample` call over the joined input.

    The same polyphase low-pass filter as `resample` (scipy's resample_poly) runs over a carried window of past
    input, so 44.1/48 kHz capture blocks of any size give 16 kHz audio without edge effects at the joins.
    """

    def __init__(self, rate: int, target: int = SAMPLE_RATE) -> None:
        if rate <= 0:
            raise S2RError(f"sample rate must be positive, got {rate}")
        self.rate = rate
        g = gcd(rate, target)
        self.up, self.down = target // g, rate // g
        half = 10 * max(self.up, self.down)  # filter half-length in up-sampled samples, as resample_poly uses
        self._pad = self.down - half % self.down  # leading zero taps that make the filter delay whole outputs
        taps = np.ones(1, np.float32) if self.up == self.down else (  # float32 taps, as resample_poly makes them for
            # float32 audio: the same arithmetic, so the same samples to the bit
            firwin(2 * half + 1, 1 / max(self.up, self.down), window=("kaiser", 5.0)).astype(np.float32) * self.up
        )
        self._h = np.concatenate([np.zeros(self._pad, np.float32), taps])
        self._skip = (half + self._pad) // self.down  # outputs of the full convolution that precede output 0
        self._buf = np.zeros(0, dtype=np.float32)  # input from absolute index _start (a multiple of `down`) on
        self._start = 0
        self._n_in = 0
        self._n_out = 0

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Take a block of mono samples; return every output sample its input now fully determines."""
        if self.up == self.down:
            return np.asarray(samples, dtype=np.float32)
        self._buf = np.concatenate([self._buf, np.asarray(samples, dtype=np.float32)])
        self._n_in += len(samples)
        newest = (self._n_in * self.up - 1 + self._pad) // self.down - self._skip  # last output with all its input
        return self._emit(min(newest + 1, self._total()))

    def flush(self) -> np.ndarray:
        """The outputs held back for look-ahead, computed as if the input ended here (zeros after it)."""
        return np.zeros(0, dtype=np.float32) if self.up == self.down else self._emit(self._total())

    def _total(self) -> int:
        return -(-self._n_in * self.up // self.down)

    def _emit(self, end: int) -> np.ndarray:
        """Outputs [_n_out, end) from the carried window, then drop the input no later output needs."""
        if end <= self._n_out:
            return np.zeros(0, dtype=np.float32)
        tail = np.zeros(len(self._h) // self.up + 1, dtype=np.float32)  # zeros past the end, as resample_poly pads
        full = upfirdn(self._h, np.concatenate([self._buf, tail]), self.up, self.down)
        offset = self._start * self.up // self.down - self._skip  # output index of full[0]
        out = full[self._n_out - offset : end - offset].astype(np.float32)
        self._n_out = end
        oldest = -(-((end + self._skip) * self.down - (len(self._h) - 1)) // self.up)  # first input output `end` uses
        keep_from = min(max(oldest, 0), self._n_in) // self.down * self.down
        self._buf = self._buf[keep_from - self._start :]
        self._start = keep_from
        return out


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average the channels of a (n,) or (n, channels) array into one."""
    if samples.ndim == 1:
        return samples
    if samples.ndim == 2:
        return samples.mean(axis=1)
    raise S2RError(f"audio must be (samples,) or (samples, channels), got shape {samples.shape}")


def check_speech(samples: np.ndarray, what: str) -> np.ndarray:
    """Reject audio that cannot hold a query (empty, too short, NaN, silent, clipped); return it as float32."""
    samples = np.asarray(samples, dtype=np.float32)
    if samples.size == 0:
        raise S2RError(f"{what}: the audio is empty; record or pass a spoken query")
    if not np.all(np.isfinite(samples)):
        raise S2RError(f"{what}: the audio contains NaN or infinite samples; check the decoder that produced it")
    seconds = samples.size / SAMPLE_RATE
    if seconds < MIN_SECONDS:
        raise S2RError(f"{what}: the audio is {seconds * 1000:.0f} ms long; a query needs at least {MIN_SECONDS * 1000:.0f} ms")
    if float(np.sqrt(np.mean(samples**2))) < SILENCE_RMS:
        raise S2RError(f"{what}: the audio is silent; check the microphone or the file")
    if np.mean(np.abs(samples) >= 0.999) > CLIP_FRACTION:
        raise S2RError(f"{what}: over {CLIP_FRACTION:.0%} of the samples are clipped at full scale; lower the input gain")
    return samples


def load_audio(path: str | Path) -> np.ndarray:
    """Read an audio file (WAV, FLAC, ...) as 16 kHz mono float32 in [-1, 1], checked by `check_speech`."""
    path = Path(path)
    if not path.is_file():
        raise S2RError(f"{path}: no such audio file")
    try:
        samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise S2RError(f"{path}: not a readable audio file ({exc}); pass a WAV or FLAC file") from None
    return check_speech(resample(to_mono(samples), rate), str(path))


def pad_to_chunks(samples: np.ndarray, chunk_samples: int) -> np.ndarray:
    """Zero-pad the tail so the length is a whole number of chunks (at least one)."""
    n_chunks = max(1, -(-len(samples) // chunk_samples))
    out = np.zeros(n_chunks * chunk_samples, dtype=np.float32)
    out[: len(samples)] = samples
    return out
