"""The teacher's wordpieces as the bag head's vocabulary: which pieces a student knows, texts as its piece ids, and
where its table of piece vectors starts (each piece's teacher vector alone, reduced to the table's width)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import torch
from tqdm import tqdm

from s2r_edge.errors import S2RError
from s2r_edge.model import WordBag
from s2r_edge.teacher import _model


def _tokenizer():  # type: ignore[no-untyped-def]
    return _model().tokenizer


def teacher_pieces(texts: list[str]) -> list[list[int]]:
    """The teacher's wordpiece ids of each text (no [CLS]/[SEP])."""
    return _tokenizer()(list(texts), add_special_tokens=False)["input_ids"] if texts else []


def common_pieces(texts: list[str], size: int) -> list[int]:
    """The `size` pieces most frequent in `texts` (ties: the lower id first), as teacher ids."""
    counts = Counter(i for ids in teacher_pieces(texts) for i in ids)
    return [i for i, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:size]]


def encode(head: WordBag, texts: list[str]) -> list[list[int]]:
    """Texts as the head's piece ids (1-based; 0 is the CTC blank), pieces outside its vocabulary left out."""
    cls = {int(t): i + 1 for i, t in enumerate(head.token_ids.tolist())}
    return [[cls[i] for i in ids if i in cls] for ids in teacher_pieces(texts)]


def padded(pieces: list[list[int]]) -> torch.Tensor:
    """Piece-id rows 0-padded into (B, L) (an empty row stays all padding)."""
    width = max(1, max(map(len, pieces), default=0))
    return torch.tensor([p + [0] * (width - len(p)) for p in pieces], dtype=torch.long)


@torch.no_grad()
def piece_vectors(token_ids: list[int], batch: int = 1024) -> torch.Tensor:
    """The teacher's vector of each piece alone ([CLS] piece [SEP], mean-pooled as the teacher pools a text)."""
    st = _model()
    bert, tok = st[0].auto_model, st.tokenizer
    out = []
    for i in tqdm(range(0, len(token_ids), batch), desc="piece vectors", mininterval=10):
        ids = torch.tensor(token_ids[i : i + batch])
        inp = torch.stack([torch.full_like(ids, tok.cls_token_id), ids, torch.full_like(ids, tok.sep_token_id)], 1)
        out.append(bert(input_ids=inp, attention_mask=torch.ones_like(inp)).last_hidden_state.mean(1))
    return torch.cat(out)


@torch.no_grad()
def start_head(head: WordBag, texts: list[str]) -> None:
    """Give a new head its vocabulary (the pieces most frequent in the training `texts`) and start its table from the
    pieces' teacher vectors, reduced to the table's width by PCA, with the projection undoing the reduction: so
    before any training it already reads a text about as the teacher's pieces would, averaged."""
    vocab, width = head.token_ids.numel(), head.table.shape[1]
    ids = common_pieces(texts, vocab)
    if len(ids) < vocab:
        raise S2RError(f"the training texts hold {len(ids)} distinct wordpieces, fewer than the {vocab} asked "
                         f"for: give more texts or a smaller vocabulary")
    vectors = piece_vectors(ids)
    mean = vectors.mean(0)
    _, _, vt = torch.linalg.svd(vectors - mean, full_matrices=False)
    basis = vt[: min(width, vt.shape[0])]  # (width, teacher dim)
    head.token_ids.copy_(torch.tensor(ids))
    head.table[1:, : len(basis)] = (vectors - mean) @ basis.T
    head.table[1:, len(basis) :] = 0
    head.proj.weight.zero_()
    head.proj.weight[:, : len(basis)] = basis.T
    head.proj.bias.copy_(mean)


def coverage(head: WordBag, texts: list[str]) -> float:
    """Share of the texts' teacher pieces that the head knows."""
    known = set(head.token_ids.tolist())
    pieces = [i for ids in teacher_pieces(texts) for i in ids]
    return float(np.mean([i in known for i in pieces])) if pieces else 1.0
