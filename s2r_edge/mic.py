"""The live loop: microphone (or a replayed file) -> bounded queue -> 16 kHz -> endpointer -> encoder stream -> hits.

The capture callback only copies the block into a bounded queue and counts PortAudio's overflow flag; resampling,
endpointing, encoding and search all run in the consumer (`Listener.run`), so capture is never blocked.
"""

from __future__ import annotations

import os
import queue
import signal
import shutil
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol

import numpy as np
import soundfile as sf

from s2r_edge.audio import SAMPLE_RATE, StreamResampler, to_mono
from s2r_edge.endpoint import Boundary, EnergyVad, PushToTalk, VadConfig
from s2r_edge.errors import S2RError
from s2r_edge.index import Hit

if TYPE_CHECKING:  # the runtime (torch, ExecuTorch) is loaded by whoever makes the Searcher
    from s2r_edge.runtime import Searcher, Stream

FIRST_BLOCK_WAIT_S = 10.0  # an input that delivers nothing this long after opening is broken
NO_DEVICE_FIX = "start PulseAudio (`pulseaudio --start`), plug in a microphone, or replay a file with --wav FILE"


@dataclass(frozen=True)
class ListenConfig:
    """How the live loop captures and when it answers."""

    k: int = 5  # hits per result
    block_ms: int = 20  # capture block handed to the callback
    queue_blocks: int = 250  # queued blocks before new ones are dropped (5 s at 20 ms)
    vad: VadConfig = field(default_factory=VadConfig)
    push_to_talk: bool = False  # utterances marked by `Listener.toggle()` (Enter) instead of the VAD

    def __post_init__(self) -> None:
        if self.k < 1 or self.block_ms < 1 or self.queue_blocks < 1:
            raise S2RError(f"k, block_ms and queue_blocks must be at least 1, got {self.k}, {self.block_ms}, "
                           f"{self.queue_blocks}")


@dataclass(frozen=True)
class Utterance:
    """The final result of one utterance and what it cost."""

    hits: list[Hit]
    end_to_hits_ms: float  # from the end of speech (its last sample captured) to the final hits; includes hangover
    finish_ms: float  # of which: flushing the encoder and searching once the end was decided
    speech_s: float  # from the start to the end of speech
    chunks: int  # encoder steps for this utterance
    overflows: int  # PortAudio input overflows so far in the session
    dropped: int  # blocks dropped on a full queue so far in the session
    device: str

    def to_json(self) -> dict:
        return {
            "hits": [h.to_json() for h in self.hits],
            "end_to_hits_ms": round(self.end_to_hits_ms, 1),
            "finish_ms": round(self.finish_ms, 2),
            "speech_s": round(self.speech_s, 2),
            "chunks": self.chunks,
            "overflows": self.overflows,
            "dropped": self.dropped,
            "device": self.device,
        }


@dataclass
class Summary:
    """The session so far: every utterance and the capture problems counted."""

    device: str
    utterances: list[Utterance] = field(default_factory=list)
    overflows: int = 0
    dropped: int = 0
    interrupted: bool = False  # stopped by Ctrl-C

    def to_json(self) -> dict:
        lat = [u.end_to_hits_ms for u in self.utterances]
        return {"utterances": len(lat), "end_to_hits_ms_median": round(statistics.median(lat), 1) if lat else None,
                "overflows": self.overflows, "dropped": self.dropped, "device": self.device}


BlockSink = Callable[[np.ndarray, float, bool], None]  # (mono samples, capture time of the first one, overflowed)


class Source(Protocol):
    """Where blocks come from: it calls the sink from its own thread until stopped or exhausted."""

    name: str
    rate: int
    exhausted: threading.Event

    def start(self, sink: BlockSink) -> None: ...
    def stop(self) -> None: ...


def _sounddevice():  # type: ignore[no-untyped-def]
    try:
        import sounddevice
    except OSError as exc:
        raise S2RError(f"PortAudio cannot be loaded ({exc}); install libportaudio2, or replay a file with --wav FILE")
    return sounddevice


def pulse_sources() -> list[str]:
    """PulseAudio source names (microphones and sink monitors); empty when there is no server or no pactl."""
    if not shutil.which("pactl"):
        return []
    proc = subprocess.run(["pactl", "list", "short", "sources"], capture_output=True, text=True, timeout=10)
    return [line.split("\t")[1] for line in proc.stdout.splitlines() if proc.returncode == 0 and "\t" in line]


def list_inputs() -> list[str]:
    """Every input a user can pass to --device: PortAudio input devices, then PulseAudio sources."""
    sd = _sounddevice()
    lines = [f"{i}: {d['name']} ({d['max_input_channels']} ch, default {d['default_samplerate']:.0f} Hz)"
             for i, d in enumerate(sd.query_devices()) if d["max_input_channels"] > 0]
    return lines + [f"pulse source: {name}" for name in pulse_sources()]


class MicSource:
    """A PortAudio input stream: mono float32 at 16 kHz if the device takes it, else at its own rate."""

    def __init__(self, device: str | None = None, rate: int | None = None, block_ms: int = 20) -> None:
        """`device`: a PortAudio device index or name (substring), or a PulseAudio source (e.g. a sink monitor)."""
        if rate is not None and rate <= 0:
            raise S2RError(f"capture rate must be positive, got {rate}")
        self._sd = sd = _sounddevice()
        inputs = {i: d for i, d in enumerate(sd.query_devices()) if d["max_input_channels"] > 0}
        if not inputs:
            raise S2RError(f"no audio input device found; {NO_DEVICE_FIX}")
        self._device, self.name = self._pick(device, inputs)
        self.rate = rate or self._best_rate()
        self._block = max(1, self.rate * block_ms // 1000)
        self._stream = None
        self.exhausted = threading.Event()  # a microphone never runs out

    def _pick(self, device: str | None, inputs: dict) -> tuple[int, str]:  # type: ignore[type-arg]
        if device is None:
            index = self._sd.default.device[0]
            index = index if index in inputs else min(inputs)
            return index, inputs[index]["name"]
        if device.isdigit() and int(device) in inputs:
            return int(device), inputs[int(device)]["name"]
        named = [i for i, d in inputs.items() if device == d["name"]] or [
            i for i, d in inputs.items() if device.lower() in d["name"].lower()]
        if named:
            return named[0], inputs[named[0]]["name"]
        pulse = [i for i, d in inputs.items() if d["name"] == "pulse"]
        if pulse and device in pulse_sources():
            os.environ["PULSE_SOURCE"] = device  # read by the ALSA pulse plugin when the stream opens
            return pulse[0], f"pulse:{device}"
        raise S2RError(f"no input device or PulseAudio source named {device!r}; see `s2r-edge listen --list-devices`")

    def _best_rate(self) -> int:
        try:
            self._sd.check_input_settings(self._device, channels=1, dtype="float32", samplerate=SAMPLE_RATE)
            return SAMPLE_RATE
        except self._sd.PortAudioError:
            return int(self._sd.query_devices(self._device)["default_samplerate"])

    def start(self, sink: BlockSink) -> None:
        def callback(indata: np.ndarray, frames: int, t, status) -> None:  # type: ignore[no-untyped-def]
            sink(indata[:, 0].copy(), time.monotonic() - frames / self.rate, bool(status.input_overflow))

        try:
            self._stream = self._sd.InputStream(device=self._device, samplerate=self.rate, channels=1,
                                                dtype="float32", blocksize=self._block, callback=callback)
            self._stream.start()
        except self._sd.PortAudioError as exc:
            raise S2RError(f"cannot open the input {self.name} at {self.rate} Hz ({exc}); {NO_DEVICE_FIX}") from None

    def stop(self) -> None:
        if self._stream is not None:  # abort, not stop: drop what is queued instead of waiting for it to drain
            self._stream.abort(ignore_errors=True)
            self._stream.close(ignore_errors=True)
            self._stream = None


class WavSource:
    """A file replayed block by block at its own rate, paced like a microphone unless `realtime` is off."""

    def __init__(self, path: str | Path, realtime: bool = True, block_ms: int = 20) -> None:
        path = Path(path)
        if not path.is_file():
            raise S2RError(f"{path}: no such audio file")
        try:
            samples, self.rate = sf.read(str(path), dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
            raise S2RError(f"{path}: not a readable audio file ({exc}); pass a WAV or FLAC file") from None
        if not len(samples):
            raise S2RError(f"{path}: the audio is empty; pass a recording of a spoken query")
        self.name = f"file:{path.name}"
        self._samples = to_mono(samples)
        self._block = max(1, self.rate * block_ms // 1000)
        self._realtime = realtime
        self._stop = threading.Event()
        self.exhausted = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, sink: BlockSink) -> None:
        def play() -> None:
            t0 = time.monotonic()
            for start in range(0, len(self._samples), self._block):
                if self._stop.is_set():
                    break
                block = self._samples[start : start + self._block]
                if self._realtime:
                    self._stop.wait(max(0.0, t0 + (start + len(block)) / self.rate - time.monotonic()))
                sink(block.copy(), time.monotonic() - len(block) / self.rate, False)
            self.exhausted.set()

        self._thread = threading.Thread(target=play, name="wav-replay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


class Listener:
    """Turns a source's blocks into utterances: endpointing, streaming the encoder, partial and final hits."""

    def __init__(self, searcher: Searcher, source: Source, cfg: ListenConfig = ListenConfig()) -> None:
        self.searcher = searcher
        self.source = source
        self.cfg = cfg
        self.summary = Summary(source.name)
        self.endpointer = PushToTalk() if cfg.push_to_talk else EnergyVad(cfg.vad)
        self._queue: queue.Queue[tuple[np.ndarray, float]] = queue.Queue(maxsize=cfg.queue_blocks)
        self._resampler = StreamResampler(source.rate)
        self._pos = 0  # 16 kHz samples taken so far
        self._block_end_time = 0.0  # capture time of the newest sample taken
        keep = (cfg.vad.preroll_ms + cfg.vad.start_ms + 2 * cfg.vad.frame_ms) * SAMPLE_RATE // 1000
        self._recent = np.zeros(keep, dtype=np.float32)  # the latest audio outside an utterance, for the pre-roll
        self._stream: Stream | None = None
        self._speech_start = 0
        self._seen_chunks = 0
        self._started = False
        self._first_block = threading.Event()

    def on_block(self, samples: np.ndarray, captured: float, overflowed: bool) -> None:
        """The capture side: queue the block, never block; count overflows and drops instead of failing."""
        self._first_block.set()
        if overflowed:
            self.summary.overflows += 1
        try:
            self._queue.put_nowait((samples, captured))
        except queue.Full:
            self.summary.dropped += 1

    def toggle(self) -> None:
        """Push-to-talk: start or end an utterance (ignored by the VAD)."""
        if isinstance(self.endpointer, PushToTalk):
            self.endpointer.toggle()

    def start(self) -> None:
        """Start capturing into the queue and wait for the first block (`run` does it if not done yet)."""
        if self._started:
            return
        self.source.start(self.on_block)
        self._started = True
        if not self._first_block.wait(FIRST_BLOCK_WAIT_S) and not self.source.exhausted.is_set():
            self.source.stop()
            raise S2RError(f"{self.source.name} opened but delivered no audio in {FIRST_BLOCK_WAIT_S:g} s; check "
                           "that it is not muted or suspended (`pactl list sources`), or pick another --device")

    def run(self, on_final: Callable[[Utterance], None], on_partial: Callable[[list[Hit]], None] | None = None,
            once: bool = False, timeout_s: float | None = None) -> Summary:
        """Listen until Ctrl-C, the source runs out, `timeout_s` passes, or (with `once`) one utterance ends."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        self.start()
        # Ctrl-C sets a flag rather than raising: a KeyboardInterrupt inside the queue's lock would leave it held,
        # and the PortAudio callback (which puts into that queue) would then block the stream's close forever.
        ctrl_c = threading.Event()
        in_main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, lambda *_: ctrl_c.set()) if in_main else None
        try:
            while not (once and self.summary.utterances) and not ctrl_c.is_set():
                if deadline is not None and time.monotonic() > deadline:
                    break
                try:
                    samples, captured = self._queue.get(timeout=0.05)
                except queue.Empty:
                    if self.source.exhausted.is_set():
                        self._close_at_end(on_final)
                        break
                    continue
                self._take(samples, captured, on_final, on_partial)
        finally:
            if in_main:
                signal.signal(signal.SIGINT, previous)
            self.source.stop()
        self.summary.interrupted = ctrl_c.is_set()  # Ctrl-C: a clean stop with the summary so far
        return self.summary

    def _take(self, samples: np.ndarray, captured: float, on_final: Callable[[Utterance], None],
              on_partial: Callable[[list[Hit]], None] | None) -> None:
        """One captured block: resample, split it at the endpointer's boundaries, feed the pieces."""
        x = self._resampler.push(samples)
        self._block_end_time = captured + len(samples) / self.source.rate
        cursor = 0
        for b in self.endpointer.feed(x):
            self._feed(x[cursor : b.at - self._pos], on_partial)
            cursor = b.at - self._pos
            if b.kind == "start":
                self._begin(b)
            elif self._stream is not None:
                self._end(b, on_final, end_of_block=self._pos + len(x))
        self._feed(x[cursor:], on_partial)
        self._pos += len(x)

    def _feed(self, x: np.ndarray, on_partial: Callable[[list[Hit]], None] | None) -> None:
        if self._stream is None:
            self._recent = np.concatenate([self._recent, x])[-len(self._recent) :]
            return
        self._stream.accept_waveform(SAMPLE_RATE, x)
        if on_partial is not None and self._stream.chunks > self._seen_chunks:
            self._seen_chunks = self._stream.chunks
            on_partial(self._stream.hits(self.cfg.k))

    def _begin(self, b: Boundary) -> None:
        """Open a stream with the pre-roll and the speech the endpointer needed before deciding."""
        back = min(len(self._recent), b.at - b.edge + self.cfg.vad.preroll_ms * SAMPLE_RATE // 1000)
        self._stream = self.searcher.create_stream()
        self._seen_chunks = 0
        self._speech_start = b.edge
        if back:
            self._stream.accept_waveform(SAMPLE_RATE, self._recent[-back:])

    def _end(self, b: Boundary, on_final: Callable[[Utterance], None], end_of_block: int) -> None:
        """Close the open stream: final hits, and the time from the end of speech to them."""
        stream = self._stream
        speech_end_time = self._block_end_time - (end_of_block - b.edge) / SAMPLE_RATE
        t0 = time.monotonic()
        hits = stream.finish(self.cfg.k)
        t_hits = time.monotonic()
        s = self.summary
        utt = Utterance(hits, (t_hits - speech_end_time) * 1000, (t_hits - t0) * 1000,
                        (b.edge - self._speech_start) / SAMPLE_RATE, stream.chunks, s.overflows, s.dropped,
                        s.device)
        self._stream = None
        s.utterances.append(utt)
        on_final(utt)

    def _close_at_end(self, on_final: Callable[[Utterance], None]) -> None:
        """The source ran out mid-utterance: its end is the end of speech."""
        if self._stream is not None:
            self._end(Boundary("end", self._pos, self._pos), on_final, end_of_block=self._pos)
