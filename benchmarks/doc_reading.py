"""Docs read by the student: does a bag student find more when each doc's vector also holds what its own bag head
makes of the doc's text? s2r MRR@10 of the checkpoint's vector (fp32 eager, exact cosine search) on spoken queries
when each doc vector is unit(teacher + w * read), read being the head's vector of the doc's wordpieces heard for
certain (`WordBag.read`); weight 0 is the index as `index build` makes it.

A bag student's query vector is a mean of the piece vectors it heard, so a doc read by the same table meets it partly
in its own space. The docs are the benchmark's app docs, alone and with the 100,000 distractors (their teacher vectors
taken from the benchmark index). Two rows add what the transcripts themselves get: read by the head (a perfect ear)
and by the teacher (cascade-gt). Under the table, each weight against 0: the mean difference over the spoken cells
and its 95% interval from resampling the queries. Writes the `doc-reading` section of benchmarks/RESULTS.md (or
`--section`). Run: .venv/bin/python benchmarks/doc_reading.py CHECKPOINT --split dev
"""

from __future__ import annotations

import json
import sys

import numpy as np
import torch

from s2r_edge.evaluate import reciprocal_rank
from s2r_edge.index import DocIndex
from s2r_edge.model import WordBag, load_checkpoint
from s2r_edge.teacher import embed_texts
from s2r_edge.texts import DEMO_DOCS, Query, read_docs, read_queries
from s2r_edge.wordpieces import encode, padded

from ear_cer import checkpoints_parser, listen, paired_interval, publish, speak_cells
from eval_bench import DISTRACTORS, INDEXES, bench_index


def unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (an all-zero row stays zero)."""
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


@torch.no_grad()
def read(head: WordBag, texts: list[str], batch: int = 2048) -> np.ndarray:
    """The head's vector of each text's wordpieces, heard for certain."""
    return np.concatenate([head.read(padded(encode(head, texts[i : i + batch]))).numpy()
                           for i in range(0, len(texts), batch)])


def ranks(queries: np.ndarray, docs: np.ndarray, ids: list[str], spoken: list[Query]) -> np.ndarray:
    """Each query's reciprocal rank (0 past the top 10) by exact cosine search over `docs` (unit rows)."""
    scores = unit(queries) @ docs.T
    top = np.argsort(-scores, axis=1)[:, :10]
    return np.array([reciprocal_rank([ids[i] for i in row], q.relevant) for row, q in zip(top, spoken)])


def main() -> None:
    parser = checkpoints_parser(__doc__)
    parser.add_argument("--weights", type=float, nargs="+", default=[0.0, 1.0],
                        help="weights of the read vector in each doc's (0, the index as built, comes first)")
    parser.add_argument("--section", default="doc-reading", help="the RESULTS.md section to write")
    parser.set_defaults(conditions="clean,white@10")
    args = parser.parse_args()
    if args.weights[0] != 0:
        parser.error("--weights must start with 0: the index as built, which the others are compared with")
    cells = speak_cells(args)
    index = DocIndex.load(bench_index())
    if index.manifest.get("codes"):
        raise SystemExit(f"{bench_index()}: a compact index keeps its vectors on disk; rebuild it without codes")
    ids = [d.id for d in index.rows]
    teacher = unit(np.asarray(index.graph.get_items(list(range(len(ids)))), dtype=np.float32))
    app = np.isin(ids, [d.id for d in read_docs(DEMO_DOCS)])
    masks = [app if n == 0 else np.ones(len(ids), bool) for n in INDEXES.values()]
    part_ids = [[i for i, keep in zip(ids, m) if keep] for m in masks]
    texts = [d.text for d in index.rows]
    encoders, docs = {}, {}  # checkpoint -> encoder; (checkpoint, weight) -> doc vectors
    for path in map(str, args.checkpoints):
        encoders[path] = load_checkpoint(path)[0].eval()
        if not isinstance(encoders[path].head, WordBag):
            raise SystemExit(f"{path}: not a bag student (no table to read the docs with)")
        doc_read = unit(read(encoders[path].head, texts))
        docs.update({(path, w): unit(teacher + w * doc_read) for w in args.weights})
    names = {column: f"{column[0]} w={column[1]:g}" for column in docs}

    def cell_ranks(vectors: dict[str, np.ndarray], spoken: list[Query]) -> dict[tuple[str, float], np.ndarray]:
        """Per column: queries x indexes reciprocal ranks of its checkpoint's query `vectors`."""
        return {(path, w): np.stack([ranks(vectors[path], d[m], i, spoken) for m, i in zip(masks, part_ids)], 1)
                for (path, w), d in docs.items()}

    def row(voice: str, condition: str, got: dict[tuple[str, float], np.ndarray]) -> dict:
        return {"voice": voice, "condition": condition,
                **{names[c]: [round(float(r.mean()), 3) for r in got[c].T] for c in docs}}

    transcripts = read_queries(cells[0].queries, need_audio=False)
    said = [q.text for q in transcripts]
    rows = [row("transcript, read by the head (a perfect ear)", "-",
                cell_ranks({p: read(e.head, said) for p, e in encoders.items()}, transcripts)),
            row("transcript, read by the teacher (cascade-gt)", "-",
                cell_ranks(dict.fromkeys(encoders, embed_texts(said)), transcripts))]
    spoken_ranks: dict[tuple[str, float], list[np.ndarray]] = {c: [] for c in docs}
    for cell in cells:
        spoken = read_queries(cell.queries)
        if [q.text for q in spoken] != said:
            raise SystemExit(f"{cell.voice} {cell.condition}: not the same queries as the other cells")
        got = cell_ranks({p: np.stack([listen(e, q)[0] for q in spoken]) for p, e in encoders.items()}, spoken)
        rows.append(row(cell.voice, cell.condition, got))
        for c in docs:
            spoken_ranks[c].append(got[c])
        print(json.dumps(rows[-1]), file=sys.stderr)
    against = ["Each weight against 0, all spoken cells: mean difference of reciprocal ranks [95% interval, queries "
               "resampled]", "", f"| column | {' | '.join(INDEXES)} |", "|---|" + "---|" * len(INDEXES)]
    for path, w in docs:
        if w:
            diff = (np.stack(spoken_ranks[path, w]) - np.stack(spoken_ranks[path, 0.0])).mean(axis=0)
            against.append(f"| `{names[path, w]}` | {' | '.join(paired_interval(diff, np.ones(len(diff))))} |")
    publish(args, rows, list(names.values()), f"Each cell: MRR@10 by exact cosine search among the app docs alone / with "
            f"+{DISTRACTORS // 1000}k distractors, each doc's vector unit(teacher + w * the head's read of its text); "
            f"{len(said)} {args.split} queries; spoken cells: the checkpoint's fp32 eager vector.", "\n".join(against))


if __name__ == "__main__":
    main()
