"""Reading lessons: texts without audio, through the student's upper blocks, teach those blocks and never the ear."""

import numpy as np
import torch

from s2r_edge.model import ModelConfig, StreamingEncoder
from s2r_edge.reading import Reading, held_chars, read_loss
from s2r_edge.teacher import embed_texts

READ = ["where is the nearest chemist", "remind me to water the plants", "what time does the match start"]


def test_a_reading_lesson_teaches_only_the_blocks_from_its_layer_up():
    encoder = StreamingEncoder(ModelConfig(dim=32, dilations=(1, 2, 4)))
    reading = Reading(32, layer=1)
    cos, nce = read_loss(reading, encoder, READ, torch.from_numpy(embed_texts(READ)), np.random.default_rng(0), 0.05)
    assert cos.shape == (3,) and torch.isfinite(nce)
    ((1 - cos).mean() + nce).backward()
    taught = {name for name, p in [*encoder.named_parameters(), *reading.named_parameters()]
              if p.grad is not None and p.grad.abs().sum() > 0}
    assert {"chars.weight", "blocks.1.ff.1.weight", "blocks.2.conv_weight", "head.score.weight", "head.proj.weight"} <= taught
    assert not {n for n in taught if n.startswith(("frontend", "inp", "blocks.0", "ctc"))}  # the ear is not read to


def test_held_characters_last_as_many_frames_as_asked_and_pad_with_zeros():
    rows = held_chars(["ab", "c"], lambda n: np.arange(1, n + 1))
    assert rows.tolist() == [[2, 3, 3], [4, 0, 0]]  # a: 1 frame, b: 2; "c" padded
