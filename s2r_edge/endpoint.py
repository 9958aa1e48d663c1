"""Endpointing: where an utterance starts and ends in a live 16 kHz stream, by energy VAD or by push-to-talk.

Both endpointers take blocks of any size and return the `Boundary`s found in them; they hold no encoder state,
so either side can be reset on its own (the mic loop makes a new encoder stream per utterance).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

import numpy as np

from s2r_edge.audio import SAMPLE_RATE
from s2r_edge.errors import S2RError


@dataclass(frozen=True)
class VadConfig:
    """Energy VAD thresholds; times in ms, levels in dB relative to full scale."""

    frame_ms: int = 20  # one energy measurement per frame
    threshold_db: float = -45.0  # a frame is speech only above this level ...
    margin_db: float = 12.0  # ... and this far above the running noise floor
    start_ms: int = 100  # this much speech in a row starts an utterance (a click does not)
    hangover_ms: int = 500  # this much non-speech in a row ends it (pauses between words do not)
    preroll_ms: int = 300  # audio kept from before the start, so the first syllable is not cut
    max_utterance_s: float = 10.0  # an utterance is closed after this long even if the speech goes on

    def __post_init__(self) -> None:
        if self.frame_ms <= 0 or self.start_ms < self.frame_ms or self.hangover_ms < self.frame_ms:
            raise S2RError("VAD times must be positive, with start and hangover at least one frame "
                           f"({self.frame_ms} ms)")
        if self.max_utterance_s * 1000 <= self.start_ms or self.preroll_ms < 0:
            raise S2RError("max utterance must be longer than the start time, and the pre-roll not negative")


@dataclass(frozen=True)
class Boundary:
    """An utterance start or end, found at sample `at` (absolute, 16 kHz); `edge` is where the speech itself
    starts or ends, earlier than `at` by the start time or the hangover."""

    kind: Literal["start", "end"]
    at: int
    edge: int


class EnergyVad:
    """Frame energy against an absolute threshold and a noise floor tracked in non-speech, with hangover."""

    NOISE_RISE_DB = 0.05  # per frame: the floor follows the quietest frames and creeps up 2.5 dB/s through noise

    def __init__(self, cfg: VadConfig = VadConfig()) -> None:
        self.cfg = cfg
        self.frame = SAMPLE_RATE * cfg.frame_ms // 1000  # 320 samples at 20 ms
        self._rest = np.zeros(0, dtype=np.float32)
        self._pos = 0  # absolute index of the first sample of _rest
        self._floor_db: float | None = None  # set by the first frame
        self._run = 0  # frames in a row on the other side of the current state
        self._run_edge = 0  # sample where that run began
        self._started_at = 0
        self.in_speech = False

    def feed(self, samples: np.ndarray) -> list[Boundary]:
        """Take a block of 16 kHz mono samples; return the boundaries decided inside it."""
        buf = np.concatenate([self._rest, np.asarray(samples, dtype=np.float32)])
        n_frames = len(buf) // self.frame
        out = []
        for i in range(n_frames):
            start = self._pos + i * self.frame
            boundary = self._frame(buf[i * self.frame : (i + 1) * self.frame], start)
            if boundary:
                out.append(boundary)
        self._rest = buf[n_frames * self.frame :]
        self._pos += n_frames * self.frame
        return out

    def _frame(self, frame: np.ndarray, start: int) -> Boundary | None:
        cfg = self.cfg
        level = 10 * np.log10(float(np.mean(frame.astype(np.float64) ** 2)) + 1e-12)
        floor = level if self._floor_db is None else min(level, self._floor_db + self.NOISE_RISE_DB)
        self._floor_db = floor
        voiced = level > max(cfg.threshold_db, floor + cfg.margin_db)
        end = start + self.frame
        if voiced == self.in_speech:
            self._run = 0
            if self.in_speech and (end - self._started_at) >= cfg.max_utterance_s * SAMPLE_RATE:
                self.in_speech = False
                return Boundary("end", end, end)
            return None
        if self._run == 0:
            self._run_edge = start  # the run's first frame: where speech starts, or where it stopped
        self._run += 1
        needed = cfg.start_ms if voiced else cfg.hangover_ms
        if self._run * cfg.frame_ms < needed:
            return None
        self.in_speech, self._run = voiced, 0
        if voiced:
            self._started_at = self._run_edge
        return Boundary("start" if voiced else "end", end, self._run_edge)


class PushToTalk:
    """The user marks each utterance: `toggle()` (Enter in the CLI) starts it, the next `toggle()` ends it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._toggles = 0
        self._pos = 0
        self.in_speech = False

    def toggle(self) -> None:
        """Called from any thread (the key reader); takes effect at the start of the next block fed."""
        with self._lock:
            self._toggles += 1

    def feed(self, samples: np.ndarray) -> list[Boundary]:
        with self._lock:
            toggles, self._toggles = self._toggles, 0
        out = []
        for _ in range(toggles):
            self.in_speech = not self.in_speech
            out.append(Boundary("start" if self.in_speech else "end", self._pos, self._pos))
        self._pos += len(samples)
        return out
