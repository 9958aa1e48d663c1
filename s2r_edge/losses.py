"""What the student is taught on a batch of speech: (1 - cosine to the teacher vector) + contrastive InfoNCE against
the other texts in the batch + an auxiliary character CTC head on the encoder frames (DESIGN.md: without it the student
memorises texts instead of learning to hear) + for a bag head a CTC over the teacher's wordpieces + optionally a
retrieval term: an utterance of a known query of a corpus (or of a doc's title) is pulled to its relevant docs'
teacher vectors against all the corpus's other docs, the hard negatives (`DocTargets`). The InfoNCE may also take a
bank of every training text's teacher vector as negatives (`text_bank`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from s2r_edge.errors import S2RError
from s2r_edge.model import StreamingEncoder

if TYPE_CHECKING:
    from s2r_edge.train import TrainConfig


def teacher_loss(
    emb: torch.Tensor, targets: torch.Tensor, text_ids: torch.Tensor, temperature: float,
    bank: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine of each embedding to its teacher vector (B,), and InfoNCE against the batch's other texts' vectors
    (a row spoken twice in a batch is not its own negative) and, given a `bank` (vectors (N, D), their text ids (N,)),
    against those texts too: many more negatives, so the nearest texts, the ones a big index confuses, count. The
    batch's other texts, when the bank holds them too, are negatives twice."""
    cos = (emb * targets).sum(-1)
    logits = emb @ targets.T / temperature
    same_text = text_ids[:, None] == text_ids[None, :]
    logits = logits.masked_fill(same_text & ~torch.eye(len(emb), dtype=torch.bool, device=emb.device), -1e4)
    if bank is not None:
        vectors, ids = bank
        far = (emb @ vectors.T / temperature).masked_fill(text_ids[:, None] == ids[None, :], -1e4)
        logits = torch.cat([logits, far], 1)
    return cos, F.cross_entropy(logits, torch.arange(len(emb), device=emb.device))


def text_bank(texts: list[str], vectors: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """A bank of negatives for `teacher_loss`: the teacher vectors of `texts` (rows of `vectors`), one row per
    distinct normalised text, and each text's row in it (texts that normalise alike share one, so no spelling of a
    text is its own negative)."""
    from s2r_edge.texts import normalise

    rows: dict[str, int] = {}
    row_of = np.array([rows.setdefault(normalise(t), len(rows)) for t in texts], dtype=np.int64)
    first = np.unique(row_of, return_index=True)[1]
    return torch.from_numpy(np.asarray(vectors, dtype=np.float32)[first]), torch.from_numpy(row_of)


def ctc_loss(logp: torch.Tensor, in_lens: torch.Tensor, labels: list[list[int]]) -> torch.Tensor:
    """CTC of frame log-probs (B, L, classes) against each row's label ids (blank 0); rows it cannot align add 0."""
    flat = torch.tensor([c for seq in labels for c in seq], dtype=torch.long)
    return F.ctc_loss(logp.transpose(0, 1).float(), flat, in_lens, torch.tensor([len(s) for s in labels]),
                      zero_infinity=True)


def distill_loss(
    encoder: StreamingEncoder,
    wav: torch.Tensor,
    lengths: torch.Tensor,
    targets: torch.Tensor,
    text_ids: torch.Tensor,
    labels: list[list[int]],
    cfg: TrainConfig,
    docs: DocTargets | None = None,
    doc_rows: torch.Tensor | None = None,
    pieces: list[list[int]] | None = None,
    bank: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The three-part loss on one batch, plus the retrieval term when `docs` is given (`doc_rows`: each
    utterance's row of its relevance, -1 for none) and the wordpiece CTC of a bag head (`pieces`: each utterance's
    piece ids); the InfoNCE also against a `bank` of texts if given (`teacher_loss`; `text_ids` then name its rows).
    Returns the loss and its parts for logging."""
    x, mask = encoder.frames(wav, lengths, spec_augment=encoder.training and cfg.spec_augment)
    logits = encoder.head.phase_logits(x) if pieces is not None else None  # the bag's pooling and piece CTC share them
    emb = encoder.pooled(x, mask, logits)
    cos, nce = teacher_loss(emb, targets, text_ids, cfg.temperature, bank)
    in_lens = mask.sum(1)
    ctc = ctc_loss(encoder.ctc(x).log_softmax(-1), in_lens, labels)
    loss = (1 - cos).mean() + cfg.contrastive_weight * nce + cfg.ctc_weight * ctc
    parts = {"cos": cos.mean().item(), "nce": nce.item(), "ctc": ctc.item()}
    if pieces is not None:
        stride = encoder.cfg.bag_stride
        piece = ctc_loss(logits[0].log_softmax(-1), torch.div(in_lens + stride - 1, stride, rounding_mode="floor"), pieces)
        loss = loss + cfg.piece_weight * piece
        parts["pieces"] = piece.item()
    if docs is not None and doc_rows is not None:
        retrieval = doc_loss(emb, doc_rows, docs, cfg.temperature)
        loss = loss + cfg.doc_weight * retrieval
        parts["doc"] = retrieval.item()
    return loss, parts


@dataclass(frozen=True)
class DocTargets:
    """The retrieval term's targets: a corpus's docs as teacher vectors, and for each text that is a known query of
    it (or a doc's title) the share of its relevant docs, a row of `relevance`."""

    vectors: torch.Tensor  # (docs, teacher dim), L2-normalised
    relevance: torch.Tensor  # (queries, docs): each row sums to 1 over the query's relevant docs
    rows: dict[str, int]  # normalised query text -> its row of `relevance`

    @classmethod
    def load(cls, docs_path: str | Path | None = None, queries_path: str | Path | None = None) -> DocTargets:
        """Embed the docs of `docs_path` (default: the demo docs) with the teacher; the queries of `queries_path`
        (default: the bundled train split) and the docs' titles name their relevant docs. An id that is not a doc
        is refused by name."""
        from s2r_edge.teacher import embed_texts
        from s2r_edge.texts import DEMO_DOCS, TRAIN_QUERIES, normalise, read_docs, read_queries

        docs_path, queries_path = docs_path or DEMO_DOCS, queries_path or TRAIN_QUERIES

        docs = read_docs(docs_path)
        col = {d.id: i for i, d in enumerate(docs)}
        pairs = [(q.text, q.relevant, f"{queries_path}:{q.line}") for q in read_queries(queries_path, need_audio=False)]
        pairs += [(str(d.meta["title"]), (d.id,), "") for d in docs if d.meta.get("title")]
        rows: dict[str, int] = {}
        relevance = torch.zeros(len(pairs), len(docs))
        for text, relevant, where in pairs:
            if unknown := [r for r in relevant if r not in col]:
                raise S2RError(f"{where}: relevant doc {unknown[0]!r} is not in {docs_path}; "
                               f"give the docs file the queries were labelled against")
            row = rows.setdefault(normalise(text), len(rows))
            relevance[row, [col[r] for r in relevant]] = 1.0
        relevance = relevance[: len(rows)]
        vectors = torch.from_numpy(embed_texts([d.text for d in docs], progress=True))
        return cls(vectors, relevance / relevance.sum(1, keepdim=True), rows)

    def to(self, device: torch.device) -> DocTargets:
        """The same targets on `device`, moved once rather than at every step."""
        return replace(self, vectors=self.vectors.to(device), relevance=self.relevance.to(device))

    def text_rows(self, texts: np.ndarray) -> torch.Tensor:
        """For each text of a dataset, its row of `relevance`, or -1 when it is no known query."""
        from s2r_edge.texts import normalise

        return torch.tensor([self.rows.get(normalise(str(t)), -1) for t in texts], dtype=torch.long)


def doc_loss(emb: torch.Tensor, rows: torch.Tensor, docs: DocTargets, temperature: float) -> torch.Tensor:
    """Cross-entropy of each known query's embedding over the corpus's docs, against its relevant docs' shares;
    `rows` (B,) holds -1 for utterances that are no known query, which add nothing."""
    has = rows >= 0
    if not has.any():
        return emb.new_zeros(())
    logp = F.log_softmax(emb[has] @ docs.vectors.T / temperature, dim=-1)
    return -(docs.relevance[rows[has]] * logp).sum(-1).mean()
