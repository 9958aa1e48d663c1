"""Does a student's retrieval carry over to docs no training query names? s2r MRR@10 of each checkpoint's own vector
(fp32 eager) on the benchmark's spoken test (or dev) queries, split by whether the query's relevant doc has labelled
training queries (whose speech the `train --doc-weight` retrieval term pulls to that doc) or not.

A term that only memorises the known docs lifts the first column and not the second. Writes the `known-docs` section
of benchmarks/RESULTS.md (or `--section`). Run: .venv/bin/python benchmarks/known_docs.py CHECKPOINT [CHECKPOINT ...]
"""

from __future__ import annotations

import json
import sys

import numpy as np

from s2r_edge.index import DocIndex
from s2r_edge.model import load_checkpoint
from s2r_edge.texts import TRAIN_QUERIES, read_queries

from ear_cer import checkpoints_parser, listen, publish, speak_cells
from eval_bench import INDEXES, bench_index, mrr10


def main() -> None:
    parser = checkpoints_parser(__doc__)
    parser.add_argument("--section", default="known-docs", help="the RESULTS.md section to write")
    parser.set_defaults(conditions="clean")
    args = parser.parse_args()
    cells = speak_cells(args)
    encoders = {str(c): load_checkpoint(c)[0].eval() for c in args.checkpoints}
    indexes = {name: DocIndex.load(bench_index(n)) for name, n in INDEXES.items()}
    known = {r for q in read_queries(TRAIN_QUERIES, need_audio=False) for r in q.relevant}
    rows = []
    for cell in cells:
        spoken = read_queries(cell.queries)
        seen = np.array([any(r in known for r in q.relevant) for q in spoken])
        groups = {"known": [q for q, s in zip(spoken, seen) if s], "new": [q for q, s in zip(spoken, seen) if not s]}
        rows.append({"voice": cell.voice, "condition": cell.condition, "known": int(seen.sum()),
                     "new": int((~seen).sum())})
        for name, encoder in encoders.items():
            vectors = np.stack([listen(encoder, q)[0] for q in spoken])
            parts = {"known": vectors[seen], "new": vectors[~seen]}
            rows[-1][name] = [round(mrr10(parts[g], groups[g], index), 3) for g in groups for index in indexes.values()]
        print(json.dumps(rows[-1]), file=sys.stderr)
    where = " and ".join(INDEXES)
    publish(args, rows, list(encoders), f"Each cell: s2r MRR@10 of the checkpoint's own vector (fp32 eager) among "
            f"the {where}, first for the {rows[0]['known']} {args.split} queries whose relevant doc has labelled "
            f"training queries (known docs), then for the {rows[0]['new']} whose doc has none (new docs): known "
            f"{' / '.join(INDEXES)} / new {' / '.join(INDEXES)}.")


if __name__ == "__main__":
    main()
