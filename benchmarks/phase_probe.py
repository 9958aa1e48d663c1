"""Does a program's answer depend on where the 160 ms chunks fall in the speech? A live capture starts at any phase,
so the mic loop hears a query shifted against the file search. Each query (spoken by the demo voice) is searched on
the demo index as it is, at 0.7 gain and after 80 and 400 samples (5 and 25 ms) of leading silence; prints the top 3
with scores per program, as a markdown table. Then, over the same queries, how far each program's vector moves with a
delay: the cosine of the delayed query's vector to the one as it is, lowest over the queries, for delays from a
quarter of a 20 ms frame to nearly two.

Run: .venv/bin/python benchmarks/phase_probe.py PROGRAM.pte [PROGRAM.pte ...] [--queries 32,29]
(the default queries: the two that tests/test_mic.py played until it picked its own by margin, and three more).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from s2r_edge.index import ensure_index
from s2r_edge.runtime import Searcher
from s2r_edge.texts import DEMO_DOCS, DEMO_QUERIES, read_docs, read_queries
from s2r_edge.voices import DEMO_VOICE, Voice

DELAYS = (80, 160, 240, 320, 400, 560)  # samples of leading silence (5 to 35 ms)
HERE = Path(__file__).resolve().parent
INDEX = HERE.parent / "build" / "bench" / "index-demo"
VARIANTS = {"as is": lambda w: w, "gain 0.7": lambda w: w * 0.7,
            "delayed 80": lambda w: np.concatenate([np.zeros(80, np.float32), w]),
            "delayed 400": lambda w: np.concatenate([np.zeros(400, np.float32), w])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("programs", nargs="+", type=Path, help="encoder .pte files")
    parser.add_argument("--queries", default="32,29,5,11,40", help="comma-separated indexes into the demo queries")
    args = parser.parse_args()
    index = ensure_index(read_docs(DEMO_DOCS), INDEX)
    queries = read_queries(DEMO_QUERIES, need_audio=False)
    voice = Voice.parse(DEMO_VOICE)
    spoken = {int(i): voice.speak(queries[int(i)].text).astype(np.float32) for i in args.queries.split(",")}
    tops, moves = [], []
    for program in args.programs:
        searcher = Searcher.load(index, model=program)
        for i, wav in spoken.items():
            cells = [", ".join(f"{h.id} {h.score:.3f}" for h in searcher.search_samples(vary(wav), k=3).hits)
                     for vary in VARIANTS.values()]
            tops.append(f"| `{program}` | {i} ({', '.join(queries[i].relevant)}) | {' | '.join(cells)} |")
        vector = lambda w: searcher.search_samples(w, k=1).embedding  # noqa: E731
        lowest = [min(float(vector(w) @ vector(np.concatenate([np.zeros(d, np.float32), w]))) for w in spoken.values())
                  for d in DELAYS]
        moves.append(f"| `{program}` | {' | '.join(f'{c:.4f}' for c in lowest)} |")
    print(f"| program | query (relevant) | {' | '.join(VARIANTS)} |")
    print(f"|---|---|{'---|' * len(VARIANTS)}")
    print("\n".join(tops))
    print(f"\n| program | {' | '.join(f'delayed {d}' for d in DELAYS)} |")
    print(f"|---|{'---|' * len(DELAYS)}")
    print("\n".join(moves))


if __name__ == "__main__":
    main()
