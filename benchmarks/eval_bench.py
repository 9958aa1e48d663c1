"""The visible benchmark: spoken test queries on held-out voices and acoustic conditions, searched among the app
corpus plus 100,000 WordNet glosses as distractors, by `s2r`, `cascade-asr` and `cascade-gt` in one run.

Writes the `bench-eval` section of benchmarks/RESULTS.md, benchmarks/mrr_vs_snr.png and
benchmarks/eval_bench.json. Run: `make eval` (or .venv/bin/python benchmarks/eval_bench.py --help).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np

from s2r_edge.errors import S2RError
from s2r_edge.evaluate import evaluate, reciprocal_rank
from s2r_edge.index import DocIndex, ensure_index
from s2r_edge.noise import Condition
from s2r_edge.runtime import DEFAULT_MODEL, Searcher
from s2r_edge.synth import babble_pool, condition_queries, speak_queries
from s2r_edge.texts import DEMO_DOCS, DEMO_QUERIES, DEV_QUERIES, Query, read_docs, read_queries, wordnet_glosses
from s2r_edge.voices import HELDOUT_VOICES, JOE

from results import write_section

HERE = Path(__file__).resolve().parent
BUILD = HERE.parent / "build" / "bench"
VOICES = (JOE, *HELDOUT_VOICES)
SNRS = (20, 10, 5, 0)
CONDITIONS = ("clean", *(f"{kind}@{snr}" for kind in ("white", "babble") for snr in SNRS), "reverb")
SYSTEMS = ("s2r", "cascade-asr", "cascade-gt")
DISTRACTORS = 100_000
INDEXES = {"app docs": 0, f"+{DISTRACTORS // 1000}k distractors": DISTRACTORS}  # name -> distractors
QUERY_SPLITS = {"test": DEMO_QUERIES, "dev": DEV_QUERIES}  # report on test, choose on dev


def voice_dir(voice: str, split: str = "test") -> Path:
    """Where one voice's spoken queries of a split are kept (a folder per condition); `build/bench/audio` holds the
    test split, `audio-dev` the dev split."""
    return BUILD / ("audio" if split == "test" else f"audio-{split}") / voice.replace(":", "_").replace("+", "_")


@dataclass(frozen=True)
class Cell:
    """One voice under one condition and its spoken queries file."""

    voice: str
    condition: str
    queries: Path


def distractors(n: int = DISTRACTORS) -> list:
    """`n` WordNet glosses, a seeded random sample over all parts of speech."""
    glosses = wordnet_glosses()
    random.Random(0).shuffle(glosses)
    return glosses[:n]


def bench_index(n_distractors: int = DISTRACTORS) -> Path:
    """The app corpus plus `n_distractors` WordNet glosses, indexed once and reused while the docs are unchanged."""
    path = BUILD / ("index" if n_distractors == DISTRACTORS else f"index-{n_distractors}")
    return ensure_index(read_docs(DEMO_DOCS) + distractors(n_distractors), path)


def query_file(every: int, split: str = "test") -> Path:
    """The test split (or the dev split, for choosing between models), or every `every`-th line of it for a shorter
    run."""
    path = QUERY_SPLITS[split]
    if every == 1:
        return path
    lines = [line for line in path.read_text().splitlines() if line.strip()][::every]
    path = BUILD / f"{split}_queries_every{every}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def spoken(queries: Path, voice: str, out_dir: Path, respeak: bool = False) -> Path:
    """`queries` spoken by `voice` into `out_dir`, or the audio an earlier run left there for the same queries:
    runs then score the very same audio (piper never speaks a text twice alike) and skip minutes of synthesis."""
    done = out_dir / "queries.jsonl"
    if not respeak and done.is_file():
        try:
            have = [(q.text, q.relevant) for q in read_queries(done)]
        except S2RError:  # a run stopped while writing, or audio removed since
            have = []
        if have == [(q.text, q.relevant) for q in read_queries(queries, need_audio=False)]:
            return done
    return speak_queries(queries, voice, out_dir)


def make_audio(queries: Path, voices: list[str], conditions: list[str], respeak: bool = False,
               split: str = "test") -> list[Cell]:
    """Speak the queries of `split` with each voice into its `voice_dir` (or reuse what was spoken there), then
    derive every acoustic condition from the clean audio."""
    pool = babble_pool()
    cells = []
    for voice in voices:
        folder = voice_dir(voice, split)
        clean = spoken(queries, voice, folder / "clean", respeak)
        for name in conditions:
            cond = Condition.parse(name)
            path = clean if cond.kind == "clean" else condition_queries(clean, cond, folder / cond.name, pool)
            cells.append(Cell(voice, cond.name, path))
    return cells


@lru_cache(maxsize=1)
def _searcher(index: Path) -> Searcher:
    return Searcher.load(index)


def _eval_cell(index: Path, cell: Cell, systems: tuple[str, ...]) -> dict:
    """Score one cell in a worker process (each worker holds its own searcher, teacher and recogniser)."""
    scores = evaluate(_searcher(index), read_queries(cell.queries), systems, progress=False)
    return {s: v.to_json() for s, v in scores.items()}


def _one_thread() -> None:
    """Each worker scores on one core (the teacher would otherwise start a thread per core in every worker)."""
    import torch

    torch.set_num_threads(1)


def run(index: Path, cells: list[Cell], workers: int) -> dict:
    """Every system on every cell; cascade-gt never hears the audio, so it is scored once on the true texts."""
    results: dict = {"cascade-gt": _eval_cell(index, cells[0], ("cascade-gt",))["cascade-gt"]}
    audio_systems = tuple(s for s in SYSTEMS if s != "cascade-gt")
    quick_last = sorted(range(len(cells)), key=lambda i: cells[i].condition in ("clean", "reverb"))  # noise decodes slowest
    scores: dict[int, dict] = {}
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),  # fork after torch hangs
                             initializer=_one_thread) as pool:
        futures = {pool.submit(_eval_cell, index, cells[i], audio_systems): i for i in quick_last}
        for n, fut in enumerate(as_completed(futures), 1):
            cell, scores[futures[fut]] = cells[futures[fut]], fut.result()
            print(f"[{n}/{len(cells)}] {cell.voice} {cell.condition}: "
                  + ", ".join(f"{s} {v['mrr@10']:.3f}" for s, v in scores[futures[fut]].items()), file=sys.stderr)
    results["cells"] = [{"voice": c.voice, "condition": c.condition, **scores[i]} for i, c in enumerate(cells)]
    return results


def plot(results: dict, voices: list[str], n_docs: int, out: Path) -> None:
    """MRR@10 against SNR per noise kind, one line per system and voice; clean at the right."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [*SNRS[::-1], 30]  # clean drawn at 30 dB
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    styles = {"s2r": "tab:blue", "cascade-asr": "tab:orange"}
    for ax, kind in zip(axes, ("white", "babble")):
        for system, colour in styles.items():
            for voice, ls in zip(voices, ("-", "--", ":")):
                by = {c["condition"]: c[system]["mrr@10"] for c in results["cells"] if c["voice"] == voice}
                pts = [(x, by[c]) for x, c in zip(xs, [*(f"{kind}@{s}" for s in SNRS[::-1]), "clean"]) if c in by]
                ax.plot(*zip(*pts), ls, color=colour, marker="o", ms=3, label=f"{system} · {voice}")
        ax.axhline(results["cascade-gt"]["mrr@10"], color="tab:green", label="cascade-gt (true transcript)")
        ax.set_xticks(xs, [*(str(s) for s in SNRS[::-1]), "clean"])
        ax.set_xlabel(f"{kind} noise SNR (dB)")
        ax.set_title(f"{kind} noise")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("MRR@10")
    axes[1].legend(fontsize=7, loc="center right")
    fig.suptitle(f"Spoken query retrieval among {n_docs:,} documents: MRR@10 against SNR")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def report(results: dict, n_docs: int, n_queries: int, minutes: float, command: str) -> str:
    gt = results["cascade-gt"]
    rows = [
        f"| {c['voice']} | {c['condition']} | "
        + " | ".join(f"{c[s]['mrr@10']:.3f}" for s in ("s2r", "cascade-asr"))
        + f" | {gt['mrr@10']:.3f} | "
        + " | ".join(f"{c[s]['r@1']:.2f} / {c[s]['r@10']:.2f}" for s in ("s2r", "cascade-asr"))
        + " | "
        + " | ".join(f"{c[s]['latency_ms_p50']:.1f} / {c[s]['latency_ms_p90']:.1f}" for s in ("s2r", "cascade-asr"))
        + " |"
        for c in results["cells"]
    ]
    return f"""## Benchmark: held-out voices and noise, S2R vs cascade ASR vs transcript ({date.today()})

Command: `{command}`, {minutes:.0f} min on this 2-core machine,
{platform.machine()}, Python {platform.python_version()}. Raw numbers: `benchmarks/eval_bench.json`.
Index: {n_docs} documents = the app corpus (`s2r_edge/data/demo_docs.jsonl`) + 100,000 WordNet 3.0 synset glosses
(a seeded sample of all 117,659) as distractors (Debian `wordnet-base`, WordNet 3.0 licence, Princeton University: free use with the copyright notice);
one hnswlib index, one teacher (all-MiniLM-L6-v2) for all systems. Queries: {n_queries} test-split queries
(`s2r_edge/data/demo_queries.jsonl`, never trained on), spoken by the held-out neural voice {JOE} and two held-out
voices of the training engines; noise mixed at the given SNR over the whole clip (white; babble of 4 talkers from
training voices), reverb = synthetic room, RT60 0.6 s. Model `{DEFAULT_MODEL.name}` (int8, ExecuTorch runtime,
160 ms chunks); `cascade-asr` is PocketSphinx with the real-time search setting of `s2r_edge/cascade.py`, each
row's queries decoded in order from the decoder as loaded (it adapts its channel estimate over them).
Latency: end of audio to top-10 hits, p50 / p90 ms. `cascade-gt` (true transcript, no audio)
scores MRR@10 {gt['mrr@10']:.3f}, R@1 {gt['r@1']:.2f}, R@10 {gt['r@10']:.2f}, {gt['latency_ms_p50']:.1f} ms p50 in every row.

![MRR@10 against SNR](mrr_vs_snr.png)

| voice | condition | s2r MRR@10 | asr MRR@10 | gt MRR@10 | s2r R@1 / R@10 | asr R@1 / R@10 | s2r ms p50 / p90 | asr ms p50 / p90 |
|---|---|---|---|---|---|---|---|---|
""" + "\n".join(rows)


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def reciprocal_ranks(vectors: np.ndarray, queries: list[Query], index: DocIndex) -> np.ndarray:
    """Each query's reciprocal rank (0 past the top 10) of its vector searched in `index` (its own search: the
    compact walk where it has one)."""
    return np.array([reciprocal_rank([h.id for h in index.search(v, k=10)], q.relevant)
                     for v, q in zip(vectors, queries)])


def mrr10(vectors: np.ndarray, queries: list[Query], index: DocIndex) -> float:
    """MRR@10 of query vectors searched in `index`."""
    return float(reciprocal_ranks(vectors, queries, index).mean())


def add_cell_args(parser: argparse.ArgumentParser, conditions: tuple[str, ...] = CONDITIONS) -> None:
    """The options that pick the voices, conditions and queries scored, and whether RESULTS.md is written."""
    parser.add_argument("--voices", default=",".join(VOICES), help="comma-separated voice specs")
    parser.add_argument("--conditions", default=",".join(conditions), help="clean, reverb, white@SNR, babble@SNR...")
    parser.add_argument("--every", type=positive_int, default=1, help="score every N-th test query (a shorter run)")
    parser.add_argument("--no-write", action="store_true", help="print the JSON, leave RESULTS.md alone")
    parser.add_argument("--respeak", action="store_true",
                        help="speak the queries afresh, not reuse the audio an earlier run left in build/bench/audio")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_cell_args(parser)
    parser.add_argument("--distractors", type=int, default=DISTRACTORS, help="how many WordNet glosses to add")
    parser.add_argument("--workers", type=int, default=2, help="cells scored in parallel processes")
    args = parser.parse_args()
    t0 = time.time()
    voices, conditions = args.voices.split(","), args.conditions.split(",")
    index = bench_index(args.distractors)
    queries = query_file(args.every)
    cells = make_audio(queries, voices, conditions, args.respeak)
    results = run(index, cells, args.workers)
    print(json.dumps(results))
    if args.no_write:
        return
    (HERE / "eval_bench.json").write_text(json.dumps(results, indent=1) + "\n")
    n_docs = len(DocIndex.load(index))
    plot(results, voices, n_docs, HERE / "mrr_vs_snr.png")
    command = " ".join([".venv/bin/python benchmarks/eval_bench.py", *sys.argv[1:]])
    write_section("bench-eval", report(results, n_docs, len(read_queries(queries, need_audio=False)),
                                       (time.time() - t0) / 60, command))
    print("wrote the bench-eval section of benchmarks/RESULTS.md and benchmarks/mrr_vs_snr.png", file=sys.stderr)


if __name__ == "__main__":
    main()
