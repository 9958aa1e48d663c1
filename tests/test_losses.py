"""What a batch is taught: the InfoNCE's bank of negatives (never a text against itself), and the retrieval term's
targets and loss on real teacher vectors of a toy corpus (a query's relevant docs share its target, an unknown doc
is refused by name, the loss is lowest at the relevant doc)."""

import numpy as np
import pytest
import torch

from s2r_edge.errors import S2RError
from s2r_edge.losses import DocTargets, doc_loss, teacher_loss, text_bank
from tests.conftest import write_jsonl


def test_doc_targets_share_each_query_among_its_docs_and_refuse_an_unknown_doc(tmp_path, toy_corpus):
    docs = DocTargets.load(*toy_corpus)
    assert docs.vectors.shape == (3, 384) and torch.allclose(docs.vectors.norm(dim=1), torch.ones(3), atol=1e-4)
    rows = docs.text_rows(["turn on the torch!", "Call mum on speaker", "shopping list", "play something relaxing"])
    assert rows[3] == -1  # not a known query
    assert docs.relevance[rows[0]].tolist() == [1, 0, 0]  # matched after normalising case and punctuation
    assert docs.relevance[rows[1]].tolist() == [0.5, 0.5, 0]  # two relevant docs share it
    assert docs.relevance[rows[2]].tolist() == [0, 0, 1]  # a doc's title is a query of that doc

    bad = write_jsonl(tmp_path / "bad.jsonl", [{"text": "open the calendar", "relevant": ["calendar"]}])
    with pytest.raises(S2RError, match="bad.jsonl:1: relevant doc 'calendar' is not in .*docs.jsonl"):
        DocTargets.load(toy_corpus[0], bad)


def test_doc_loss_is_lowest_at_the_relevant_doc_and_ignores_unknown_queries(toy_corpus):
    docs = DocTargets.load(*toy_corpus)
    torch_row = docs.text_rows(["turn on the torch"])
    at_doc, elsewhere = docs.vectors[[0]], docs.vectors[[2]]
    assert doc_loss(at_doc, torch_row, docs, 0.05) < doc_loss(elsewhere, torch_row, docs, 0.05)
    assert doc_loss(at_doc, torch.tensor([-1]), docs, 0.05) == 0


def test_a_bank_adds_negatives_but_never_a_text_against_itself():
    g = torch.Generator().manual_seed(0)
    emb, targets, bank = (torch.nn.functional.normalize(torch.randn(n, 8, generator=g), dim=1) for n in (3, 3, 4))
    ids, bank_ids = torch.tensor([0, 1, 2]), torch.tensor([2, 5, 6, 7])  # bank row 0 is text 2 of the batch
    expected = []
    for i in range(3):
        negatives = [bank[k] for k in range(4) if bank_ids[k] != ids[i]]
        logits = torch.cat([targets @ emb[i], torch.stack(negatives) @ emb[i]]) / 0.1
        expected.append(torch.logsumexp(logits, 0) - logits[i])
    assert torch.allclose(teacher_loss(emb, targets, ids, 0.1, (bank, bank_ids))[1], torch.stack(expected).mean())
    assert teacher_loss(emb, targets, ids, 0.1, (bank, bank_ids))[1] > teacher_loss(emb, targets, ids, 0.1)[1]


def test_a_text_bank_keeps_one_row_per_text_however_it_is_spelt():
    vectors, rows = text_bank(["Turn on the torch", "call mum", "turn on the torch!"], np.eye(3, dtype=np.float32))
    assert rows.tolist() == [0, 1, 0] and vectors.tolist() == [[1, 0, 0], [0, 1, 0]]  # the first spelling's vector
