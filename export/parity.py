"""Parity checks: stream utterances through an exported program chunk by chunk and compare with the eager model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import torch

from s2r_edge.audio import pad_to_chunks
from s2r_edge.model import StreamingEncoder


class Program(Protocol):
    """What PteEncoder and OnnxEncoder share: a zero state and one step per chunk."""

    def initial_state(self) -> list: ...

    def step(self, chunk: np.ndarray, state: list) -> tuple[np.ndarray, list]: ...


def streamed(program: Program, wav: np.ndarray, chunk_samples: int) -> list[np.ndarray]:
    """The embedding after every chunk of `wav` (zero-padded to whole chunks)."""
    wav = pad_to_chunks(wav, chunk_samples)
    state, out = program.initial_state(), []
    for start in range(0, len(wav), chunk_samples):
        emb, state = program.step(wav[start : start + chunk_samples], state)
        out.append(emb)
    return out


def eager_embeddings(encoder: StreamingEncoder, speech: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The eager model's full-utterance forward of each (zero-padded) utterance: the reference."""
    n = encoder.cfg.chunk_samples
    with torch.no_grad():
        return [encoder(torch.from_numpy(pad_to_chunks(w, n)[None, :]))[0][0].numpy() for w in speech]


def cosines(program: Program, speech: Sequence[np.ndarray], reference: Sequence[np.ndarray], chunk_samples: int) -> np.ndarray:
    """Cosine between the program's streamed final vector and the reference vector, per utterance."""
    return np.array([float(np.dot(streamed(program, w, chunk_samples)[-1], r)) for w, r in zip(speech, reference)])
