"""The retrieval term's targets and loss on real teacher vectors of a toy corpus: a query's relevant docs share its
target, an unknown doc is refused by name, and the loss is lowest at the relevant doc."""

import pytest
import torch

from s2r_edge.errors import S2RError
from s2r_edge.losses import DocTargets, doc_loss
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
