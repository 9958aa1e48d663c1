"""Reading lessons: texts without audio, taught through the student's upper blocks (or, for a bag head, its
wordpiece table) beside every speech batch, with the same cosine and InfoNCE as speech. Speaking texts is what costs;
reading them is cheap (RESULTS "Reading against hearing").
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from s2r_edge.errors import S2RError
from s2r_edge.losses import teacher_loss
from s2r_edge.model import CHARS, StreamingEncoder, text_to_labels
from s2r_edge.synth import load_targets
from s2r_edge.wordpieces import encode, padded


class Reading(nn.Module):
    """Reading lessons: texts without audio, taught through the student's upper blocks. The speech students read
    far worse than their blocks can learn to from more texts (RESULTS "Reading against hearing"), and speaking texts
    is what costs. Each character gets a learned vector, held for 2 to 5 frames (about as long as it is spoken),
    that enters the body at block `layer` in place of the lower blocks' frames, then is pooled and projected as
    speech is. Training-only: never exported."""

    def __init__(self, dim: int, layer: int) -> None:
        super().__init__()
        self.layer = layer
        self.chars = nn.Embedding(len(CHARS) + 1, dim, padding_idx=0)

    def forward(self, encoder: StreamingEncoder, ids: torch.Tensor) -> torch.Tensor:
        """The student's unit vectors (B, emb_dim) of texts given as `held_chars` rows, read rather than heard."""
        ids = ids.to(self.chars.weight.device)
        _, _, caches, _ = encoder.split_state([t.to(ids.device) for t in encoder.initial_state(len(ids))])
        x, _ = encoder.body(self.chars(ids), caches[self.layer :], first=self.layer)
        return encoder.pooled(x, ids > 0)


def held_chars(texts: list[str], holds: Callable[[int], np.ndarray]) -> torch.Tensor:
    """Texts as 0-padded rows (B, L) of character ids (the CTC alphabet), each id repeated for as many frames as
    `holds(n)` gives for a text of n characters: spoken, a character lasts about 3 of the student's 20 ms frames."""
    rows = [torch.tensor(text_to_labels(t) or [1]) for t in texts]
    return nn.utils.rnn.pad_sequence([r.repeat_interleave(torch.as_tensor(holds(len(r)))) for r in rows],
                                     batch_first=True)


def lesson_chars(texts: list[str], rng: np.random.Generator) -> torch.Tensor:
    """A reading lesson's `held_chars`: each character held for 2 to 5 frames, about as long as it is spoken."""
    return held_chars(texts, lambda n: rng.integers(2, 6, n))


def read_loss(reading: Reading | None, encoder: StreamingEncoder, texts: list[str], targets: torch.Tensor,
              rng: np.random.Generator, temperature: float, ids: torch.Tensor | None = None,
              bank: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine and InfoNCE of one reading lesson, as for speech: characters through the upper blocks (`reading`),
    or for a bag head (`reading` None) the texts' wordpieces through its table; with a `bank`, `ids` are the texts'
    rows in it (`teacher_loss`)."""
    if reading is None:
        emb = encoder.head.read(padded(encode(encoder.head, texts)).to(targets.device))
    else:
        emb = reading(encoder, lesson_chars(texts, rng))
    ids = torch.arange(len(texts), device=emb.device) if ids is None else ids
    return teacher_loss(emb, targets, ids, temperature, bank)


def reading_texts(path: str | Path, dev: set[str]) -> tuple[list[str], torch.Tensor]:
    """The texts and teacher vectors of a `synth --targets-out` file for reading lessons, without the speech dev
    texts (so the dev cosine stays unseen) and without texts that have no letters to read."""
    from s2r_edge.texts import normalise

    texts, targets = load_targets(Path(path))
    dev = {normalise(t) for t in dev}
    keep = [i for i, t in enumerate(texts) if text_to_labels(t) and normalise(t) not in dev]
    if not keep:
        raise S2RError(f"{path}: no texts to read (none with letters outside the speech dev split): give a "
                       f"`s2r-edge synth --targets-out` file of training texts")
    return [texts[i] for i in keep], torch.from_numpy(targets[keep].astype(np.float32))
