"""Does a student's retrieval carry over to docs no training query names? s2r MRR@10 of each checkpoint's own vector
(fp32 eager) on the benchmark's spoken test (or dev) queries, split by whether the query's relevant doc has labelled
training queries (whose speech the `train --doc-weight` retrieval term pulls to that doc) or not.

A term that only memorises the known docs lifts the first column and not the second. Under the table, each later
checkpoint against the first: the mean difference over all cells and its 95% interval from resampling the queries,
which says whether a difference is more than which few queries were asked (the known docs are 8 of the 100 dev queries).
Writes the `known-docs` section of benchmarks/RESULTS.md (or `--section`).
Run: .venv/bin/python benchmarks/known_docs.py CHECKPOINT [CHECKPOINT ...]
"""

from __future__ import annotations

import json
import sys

import numpy as np

from s2r_edge.index import DocIndex
from s2r_edge.model import load_checkpoint
from s2r_edge.texts import TRAIN_QUERIES, read_queries

from ear_cer import checkpoints_parser, listen, paired_interval, publish, speak_cells
from eval_bench import INDEXES, bench_index, reciprocal_ranks


def against_first(ranks: dict[str, np.ndarray], seen: np.ndarray) -> list[str]:
    """Table rows: each checkpoint after the first minus the first, for known and new docs in each index (`ranks`:
    cells x queries x indexes), resampling queries each with all its cells (another voice is not a new sample)."""
    first, *rest = ranks
    rows = []
    for name in rest:
        diff = (ranks[name] - ranks[first]).mean(axis=0)  # queries x indexes
        cells = [c for group in (seen, ~seen) for c in paired_interval(diff[group], np.ones(group.sum()))]
        rows.append(f"| `{name}` | {' | '.join(cells)} |")
    return rows


def main() -> None:
    parser = checkpoints_parser(__doc__)
    parser.add_argument("--section", default="known-docs", help="the RESULTS.md section to write")
    parser.set_defaults(conditions="clean")
    args = parser.parse_args()
    cells = speak_cells(args)
    encoders = {str(c): load_checkpoint(c)[0].eval() for c in args.checkpoints}
    indexes = {name: DocIndex.load(bench_index(n)) for name, n in INDEXES.items()}
    known = {r for q in read_queries(TRAIN_QUERIES, need_audio=False) for r in q.relevant}
    rows, ranks = [], {name: [] for name in encoders}
    texts = None
    for cell in cells:
        spoken = read_queries(cell.queries)
        if texts is not None and texts != [q.text for q in spoken]:
            raise SystemExit(f"{cell.voice} {cell.condition}: not the same queries as the other cells")
        texts = [q.text for q in spoken]
        seen = np.array([any(r in known for r in q.relevant) for q in spoken])
        rows.append({"voice": cell.voice, "condition": cell.condition, "known": int(seen.sum()),
                     "new": int((~seen).sum())})
        for name, encoder in encoders.items():
            vectors = np.stack([listen(encoder, q)[0] for q in spoken])
            ranks[name].append(np.stack([reciprocal_ranks(vectors, spoken, index) for index in indexes.values()], 1))
            rows[-1][name] = [round(float(ranks[name][-1][part, i].mean()), 3)
                              for part in (seen, ~seen) for i in range(len(indexes))]
        print(json.dumps(rows[-1]), file=sys.stderr)
    against = []
    if len(encoders) > 1:
        heads = [f"{g} docs, {index}" for g in ("known", "new") for index in INDEXES]
        against = [f"Against `{next(iter(encoders))}`, all cells: mean difference of reciprocal ranks [95% interval, "
                   f"queries resampled]", "", f"| checkpoint | {' | '.join(heads)} |", "|---|" + "---|" * len(heads),
                   *against_first({name: np.stack(r) for name, r in ranks.items()}, seen)]
        print("\n".join(against), file=sys.stderr)
    where = " and ".join(INDEXES)
    publish(args, rows, list(encoders), f"Each cell: s2r MRR@10 of the checkpoint's own vector (fp32 eager) among "
            f"the {where}, first for the {rows[0]['known']} {args.split} queries whose relevant doc has labelled "
            f"training queries (known docs), then for the {rows[0]['new']} whose doc has none (new docs): known "
            f"{' / '.join(INDEXES)} / new {' / '.join(INDEXES)}.", "\n".join(against))


if __name__ == "__main__":
    main()
