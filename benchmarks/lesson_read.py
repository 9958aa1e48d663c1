"""Do reading lessons teach the student to read? A student taught with `train --read-texts` keeps its lessons'
character vectors; fed the true transcripts of the queries by that path (characters entering at the lessons' block,
then its upper blocks, pooling and projection), how well does it retrieve? Beside what it makes of the same queries
heard (`known_docs.py`), this tells apart lessons that were not learned from lessons that do not carry over to heard
frames.

Scores MRR@10 among the app docs and +100k distractors, beside the teacher reading the same transcripts. Writes the
`lesson-read` section of benchmarks/RESULTS.md (or `--section`). Run: .venv/bin/python benchmarks/lesson_read.py
CHECKPOINT [CHECKPOINT ...] --split dev
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch

from s2r_edge.index import DocIndex
from s2r_edge.model import load_checkpoint
from s2r_edge.teacher import embed_texts
from s2r_edge.texts import read_queries
from s2r_edge.reading import Reading, lesson_chars

from ear_cer import existing_file, publish
from eval_bench import INDEXES, QUERY_SPLITS, bench_index, mrr10


@torch.no_grad()
def read_vectors(path: str, texts: list[str]) -> np.ndarray:
    """The checkpoint's vectors of `texts` by its lessons' path (eval mode; characters held 2-5 frames, seed 0)."""
    encoder, ckpt = load_checkpoint(path)
    if "reading" not in ckpt:
        raise SystemExit(f"{path}: taught without reading lessons (or before their characters were kept): train it "
                         f"with `s2r-edge train --read-texts`")
    reading = Reading(encoder.cfg.dim, ckpt["train_config"]["read_layer"])
    reading.load_state_dict(ckpt["reading"])
    return reading.eval()(encoder, lesson_chars(texts, np.random.default_rng(0))).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("checkpoints", nargs="+", type=existing_file, help="students taught with reading lessons")
    parser.add_argument("--split", choices=list(QUERY_SPLITS), default="dev",
                        help="whose transcripts: the dev queries (default, for choosing) or the test queries")
    parser.add_argument("--section", default="lesson-read", help="the RESULTS.md section to write")
    parser.add_argument("--no-write", action="store_true", help="print the JSON, leave RESULTS.md alone")
    args = parser.parse_args()
    queries = read_queries(QUERY_SPLITS[args.split], need_audio=False)
    texts = [q.text for q in queries]
    indexes = {name: DocIndex.load(bench_index(n)) for name, n in INDEXES.items()}
    teacher = embed_texts(texts)
    row = {"voice": "true transcripts", "condition": "read"}
    for path in map(str, args.checkpoints):
        vectors = read_vectors(path, texts)
        row[path] = [round(mrr10(vectors, queries, index), 3) for index in indexes.values()]
    print(json.dumps(row), file=sys.stderr)
    by_teacher = " / ".join(f"{mrr10(teacher, queries, index):.3f}" for index in indexes.values())
    publish(args, [row], [str(c) for c in args.checkpoints],
            f"Each cell: MRR@10 of the checkpoint reading the {len(queries)} {args.split} queries' true transcripts "
            f"by its lessons' path (fp32 eager), among the {' / '.join(INDEXES)}; the teacher reads them at "
            f"{by_teacher}.")


if __name__ == "__main__":
    main()
