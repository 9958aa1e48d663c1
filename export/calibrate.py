"""Speech for quantization: calibration audio (training texts, training voices) and a parity set (held-out texts).

Only training voices speak here, never the held-out neural voice (piper:joe): calibrating on it would tune
the int8 program to the stand-in for a real person.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from tqdm import tqdm

from s2r_edge.texts import DEMO_QUERIES, TRAIN_QUERIES, read_queries, read_texts
from s2r_edge.voices import JOE, TRAIN_VOICES, Voice

SPEED = 1.3  # a little faster than default: shorter utterances, quicker to synthesize and to step through


def speak_all(texts: Sequence[str], voices: Sequence[str], progress: bool = False) -> list[np.ndarray]:
    """Text i spoken by voice i mod len(voices) (16 kHz float32); the held-out voice is refused."""
    if JOE in voices:
        raise ValueError(f"{JOE} is the held-out voice: never calibrate or tune on it")
    parsed = [Voice.parse(v) for v in voices]
    pairs = tqdm(list(enumerate(texts)), desc="speaking", unit="utt", disable=not progress)
    return [parsed[i % len(parsed)].speak(text, speed=SPEED) for i, text in pairs]


def calibration_speech(n: int = 240, progress: bool = False) -> list[np.ndarray]:
    """`n` training texts spoken round-robin by all training voices: what static int8 measures its ranges on."""
    texts = read_texts(TRAIN_QUERIES)
    return speak_all([texts[i % len(texts)] for i in range(n)], TRAIN_VOICES, progress)


def parity_speech(voices: Sequence[str] = ("espeak:en-us+f2", "espeak:en-gb+m3"), progress: bool = False) -> list[np.ndarray]:
    """Every held-out demo query text spoken by each of `voices` (120 texts x 2 voices = 240 utterances)."""
    texts = [q.text for q in read_queries(DEMO_QUERIES, need_audio=False)]
    return speak_all([t for t in texts for _ in voices], voices, progress)
