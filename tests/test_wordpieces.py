"""The bag head's vocabulary, drawn from the real teacher's wordpieces: texts as piece ids, and a new head that reads
like the teacher's pieces averaged before any training."""

import pytest
import torch

from s2r_edge.errors import S2RError
from s2r_edge.model import ModelConfig, WordBag
from s2r_edge.wordpieces import common_pieces, coverage, encode, padded, piece_vectors, start_head, teacher_pieces

TEXTS = ["turn on the torch", "call mum on speaker", "turn the volume up", "how long do i boil an egg",
         "open my shopping list", "play something relaxing on the speaker"]


def test_the_most_frequent_pieces_come_first_and_unknown_ones_are_left_out():
    pieces = common_pieces(TEXTS, 3)
    counts = {}
    for ids in teacher_pieces(TEXTS):
        for i in ids:
            counts[i] = counts.get(i, 0) + 1
    assert [counts[i] for i in pieces] == sorted(counts.values(), reverse=True)[:3]
    head = WordBag(ModelConfig(vocab=3, bag_dim=4))
    head.token_ids.copy_(torch.tensor(pieces))
    (the,) = encode(head, ["the"])  # a piece it knows
    assert the == [pieces.index(teacher_pieces(["the"])[0][0]) + 1]
    assert encode(head, ["xylophone"]) == [[]] and coverage(head, ["xylophone"]) == 0.0
    assert padded([[2, 1], []]).tolist() == [[2, 1], [0, 0]]


def test_a_new_head_reads_as_the_teachers_pieces_averaged_and_refuses_too_few_texts():
    head = WordBag(ModelConfig(vocab=20, bag_dim=32))  # wider than 20 pieces span: the reduction loses nothing
    start_head(head, TEXTS)
    pieces = encode(head, TEXTS)
    vectors = piece_vectors(head.token_ids.tolist())
    expected = torch.nn.functional.normalize(torch.stack([vectors[[p - 1 for p in ps]].mean(0) for ps in pieces]))
    with torch.no_grad():
        assert torch.allclose(head.read(padded(pieces)), expected, atol=1e-4)
    with pytest.raises(S2RError, match="fewer than the 1000 asked for"):
        start_head(WordBag(ModelConfig(vocab=1000, bag_dim=8)), TEXTS)
