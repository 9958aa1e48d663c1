"""Acoustic conditions: white, pink and babble noise mixed at a chosen SNR, room reverberation, band-limiting.

Used twice: to augment training audio, and to build the benchmark's noisy and reverberant test sets.
All functions take and return 16 kHz mono float32 and draw randomness from a caller's generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, fftconvolve, sosfiltfilt

from s2r_edge.audio import SAMPLE_RATE
from s2r_edge.errors import S2RError

NOISE_KINDS = ("white", "pink", "babble")


def white_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(n).astype(np.float32)


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """1/f noise by shaping white noise in the frequency domain; unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    spec /= np.sqrt(np.maximum(np.arange(len(spec)), 1))
    x = np.fft.irfft(spec, n)
    return (x / (np.sqrt(np.mean(x**2)) + 1e-9)).astype(np.float32)


def babble(n: int, rng: np.random.Generator, pool: list[np.ndarray], talkers: int = 4) -> np.ndarray:
    """Several talkers from `pool` (other voices, other texts) summed, each looped to `n` samples at a random
    offset, each at equal loudness."""
    if len(pool) < talkers:
        raise S2RError(f"babble needs at least {talkers} utterances in its pool, got {len(pool)}")
    out = np.zeros(n, dtype=np.float32)
    for i in rng.choice(len(pool), talkers, replace=False):
        src = pool[i] / (np.sqrt(np.mean(pool[i] ** 2)) + 1e-9)
        looped = np.tile(src, -(-n // len(src)) + 1)
        start = int(rng.integers(len(src)))
        out += looped[start : start + n]
    return out


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Add `noise` scaled so that speech power / noise power = `snr_db` (powers over the whole clip)."""
    speech_power = float(np.mean(speech**2)) + 1e-12
    noise_power = float(np.mean(noise**2)) + 1e-12
    return (speech + noise * np.sqrt(speech_power / noise_power / 10 ** (snr_db / 10))).astype(np.float32)


def room_impulse(rng: np.random.Generator, rt60_s: float = 0.6, direct_to_reverb_db: float = 0.0) -> np.ndarray:
    """A synthetic room impulse response: the direct path plus exponentially decaying diffuse noise whose
    energy falls 60 dB in `rt60_s` seconds."""
    n = int(rt60_s * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    tail = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60_s)  # ln(1000) = 60 dB of energy
    tail[: int(0.002 * SAMPLE_RATE)] = 0.0  # the first reflections arrive after the direct sound
    tail *= np.sqrt(10 ** (-direct_to_reverb_db / 10) / np.sum(tail**2))
    tail[0] = 1.0
    return tail.astype(np.float32)


def reverberate(speech: np.ndarray, rng: np.random.Generator, rt60_s: float = 0.6) -> np.ndarray:
    """Convolve with a synthetic room; the tail rings on after the speech, loudness kept at the dry level."""
    wet = fftconvolve(speech, room_impulse(rng, rt60_s))[: len(speech) + int(0.3 * SAMPLE_RATE)]
    return (wet * np.sqrt(np.mean(speech**2) / (np.mean(wet**2) + 1e-12))).astype(np.float32)


def band_limit(speech: np.ndarray, low_hz: float, high_hz: float) -> np.ndarray:
    """Keep only `low_hz`..`high_hz` (a 4th-order Butterworth band-pass, zero phase): a phone line, a cheap
    microphone or a far speaker; loudness kept at the input's level."""
    sos = butter(4, [low_hz, high_hz], btype="bandpass", fs=SAMPLE_RATE, output="sos")
    out = sosfiltfilt(sos, speech)
    return (out * np.sqrt(np.mean(speech**2) / (np.mean(out**2) + 1e-12))).astype(np.float32)


@dataclass(frozen=True)
class Condition:
    """One acoustic test condition: `clean`, `reverb`, or a noise kind at an SNR (`babble@10`)."""

    kind: str  # clean, reverb, white, pink or babble
    snr_db: float | None = None

    @property
    def name(self) -> str:
        return self.kind if self.snr_db is None else f"{self.kind}@{self.snr_db:g}"

    @classmethod
    def parse(cls, name: str) -> Condition:
        """`clean`, `reverb`, or `KIND@SNR` with KIND one of white, pink, babble."""
        if name in ("clean", "reverb"):
            return cls(name)
        kind, _, snr = name.partition("@")
        try:
            if kind in NOISE_KINDS:
                return cls(kind, float(snr))
        except ValueError:
            pass
        raise S2RError(f"unknown condition {name!r}: use clean, reverb or KIND@SNR with KIND in {', '.join(NOISE_KINDS)}")

    def apply(self, speech: np.ndarray, rng: np.random.Generator, babble_pool: list[np.ndarray] = ()) -> np.ndarray:
        """This condition applied to clean `speech`, clipped to [-1, 1]."""
        if self.kind == "clean":
            out = speech
        elif self.kind == "reverb":
            out = reverberate(speech, rng)
        else:
            make = {"white": white_noise, "pink": pink_noise}.get(self.kind)
            noise = make(len(speech), rng) if make else babble(len(speech), rng, list(babble_pool))
            out = mix_at_snr(speech, noise, self.snr_db)
        return np.clip(out, -1, 1).astype(np.float32)
