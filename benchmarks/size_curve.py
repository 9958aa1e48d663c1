"""Size against quality: for students of different widths, the int8 .pte size and step time beside how well they
hear (CTC character error rate) and retrieve (s2r MRR@10 through the ExecuTorch runtime), on held-out voices.

Each checkpoint is exported to int8 (as `s2r-edge export` does) under build/curve/. MRR@10 is measured twice: among
the app corpus alone (420 docs, where a weak model still shows a difference) and among the app corpus plus 100,000
WordNet distractors (the benchmark of the `bench-eval` section). Writes the `size-curve` section of
benchmarks/RESULTS.md and benchmarks/size_curve.png. Run: .venv/bin/python benchmarks/size_curve.py CKPT [CKPT ...]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from s2r_edge.evaluate import evaluate
from s2r_edge.export.pte import export_pte
from s2r_edge.index import DocIndex
from s2r_edge.model import load_checkpoint, n_params
from s2r_edge.runtime import PteEncoder, Searcher
from s2r_edge.texts import read_queries

from ear_cer import cer, checkpoints_parser, existing_file, speak_cells
from eval_bench import BUILD, INDEXES, bench_index
from results import write_section

HERE = Path(__file__).resolve().parent


def step_ms(pte: Path, chunks: int = 200) -> float:
    """Median time of one streaming step (one 160 ms chunk of noise) through the runtime, one thread."""
    encoder = PteEncoder(pte, threads=1)
    state = encoder.initial_state()
    rng = np.random.default_rng(0)
    times = []
    for _ in range(chunks):
        chunk = rng.normal(0, 0.1, encoder.info.chunk_samples).astype(np.float32)
        t0 = time.perf_counter()
        _, state = encoder.step(chunk, state)
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times[10:]))


def measure(checkpoint: Path, cells: list, indexes: dict[str, DocIndex]) -> dict:
    """Size, speed, hearing and retrieval of one checkpoint, searching the already loaded `indexes`."""
    encoder, ckpt = load_checkpoint(checkpoint)
    pte = BUILD.parent / "curve" / f"{checkpoint.stem}_int8.pte"
    size = export_pte(encoder, pte)
    row = {"checkpoint": str(checkpoint), "width": encoder.cfg.dim,
           "params": n_params(encoder) - n_params(encoder.ctc),  # the CTC head is training-only, not exported
           "pte_mb": round(size / 1e6, 3), "step_ms": round(step_ms(pte), 3), "dev_cos": ckpt.get("dev_cos"),
           "cells": []}
    program = PteEncoder(pte)
    searchers = {name: Searcher(program, index) for name, index in indexes.items()}
    for spoken in cells:
        queries = read_queries(spoken.queries)
        mrr = {name: round(evaluate(s, queries, ("s2r",), progress=False)["s2r"].mrr10, 3)
               for name, s in searchers.items()}
        row["cells"].append({"voice": spoken.voice, "condition": spoken.condition,
                             "cer": round(cer(encoder, spoken.queries), 3), "mrr@10": mrr})
        print(f"{checkpoint.name} {spoken.voice} {spoken.condition}: {json.dumps(row['cells'][-1])}", file=sys.stderr)
    return row


def plot(rows: list[dict], reference: dict | None, n_docs: dict[str, int], out: Path) -> None:
    """CER and MRR@10 against int8 .pte size, a line per voice and condition through the curve's checkpoints, the
    reference as stars, the 5 MB budget, and MRR@10 by chance among `n_docs` documents."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(rows, key=lambda r: r["pte_mb"])
    keys = [(c["voice"], c["condition"]) for c in rows[0]["cells"]]
    panels = [("character error rate (lower is better)", lambda c: c["cer"])]
    panels += [(f"s2r MRR@10, {name}", lambda c, name=name: c["mrr@10"][name]) for name in INDEXES]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.4))
    for ax, name in zip(axes[1:], INDEXES):
        ax.axhline(sum(1 / r for r in range(1, 11)) / n_docs[name], color="black", lw=0.8, label="chance")
    for ax, (title, value) in zip(axes, panels):
        for n, key in enumerate(keys):
            colour, style = f"C{n}", "-" if key[1] == "clean" else "--"
            ys = [value(cell(r, key)) for r in rows]
            ax.plot([r["pte_mb"] for r in rows], ys, style, color=colour, marker="o", ms=4, label=" · ".join(key))
            if reference:
                ax.plot(reference["pte_mb"], value(cell(reference, key)), "*", color=colour, ms=9)
        ax.axvline(5.0, color="grey", ls=":")
        for r in rows:
            ax.annotate(f"w{r['width']}", (r["pte_mb"], 0), xytext=(0, 4), textcoords="offset points", fontsize=7,
                        ha="center")
        ax.set_xlabel("int8 .pte size (MB); dotted: the 5 MB budget")
        ax.set_title(title, fontsize=10)
        ax.set_ylim(bottom=0)
        ax.set_xlim(0, max(5.5, *(r["pte_mb"] + 0.5 for r in rows)))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="upper right")
    axes[1].legend(handles=axes[1].get_lines()[:1], fontsize=7)
    star = f"; stars: {reference['checkpoint']}" if reference else ""
    fig.suptitle(f"Student width against hearing and retrieval on held-out voices (lines: one recipe{star})",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def cell(row: dict, key: tuple[str, str]) -> dict:
    """The measurements of one checkpoint on one (voice, condition)."""
    return next(c for c in row["cells"] if (c["voice"], c["condition"]) == key)


def report(rows: list[dict], n_queries: int, split: str, command: str) -> str:
    """A table of the checkpoints, then one of their hearing and retrieval per voice and condition."""
    far = list(INDEXES)[1]
    sizes = ["| checkpoint | width | params (exported) | int8 .pte MB | step ms p50 | dev cos |",
             "|---|---|---|---|---|---|"]
    sizes += [f"| `{r['checkpoint']}` | {r['width']} | {r['params'] / 1e6:.2f} M | {r['pte_mb']:.2f} "
              f"| {r['step_ms']:.2f} | " + (f"{r['dev_cos']:.3f} |" if r["dev_cos"] is not None else "- |")
              for r in rows]
    names = [f"w{r['width']} `{Path(r['checkpoint']).name}`" for r in rows]
    quality = ["| voice | condition | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(rows)]
    for key in [(c["voice"], c["condition"]) for c in rows[0]["cells"]]:
        quality.append(f"| {key[0]} | {key[1]} | " + " | ".join(
            f"{c['cer']:.3f} / {c['mrr@10']['app docs']:.3f} / {c['mrr@10'][far]:.3f}"
            for c in (cell(r, key) for r in rows)) + " |")
    return (f"Command: `{command}`\n\n"
            "Step: median time of one 160 ms chunk through the int8 .pte, one thread. Dev cos: cosine to the teacher "
            "on the training run's unseen dev texts (training voices). Each quality cell is CER of the training-only "
            "CTC head (greedy, fp32 eager; lower is better) / s2r MRR@10 among the app docs alone / among the app docs "
            f"{far} (int8 .pte, ExecuTorch runtime), over {n_queries} spoken {split} queries.\n\n"
            "![size against quality](size_curve.png)\n\n" + "\n".join(sizes) + "\n\n" + "\n".join(quality))


def main() -> None:
    parser = checkpoints_parser(__doc__)
    parser.add_argument("--reference", type=existing_file,
                        help="a checkpoint of another recipe, measured and drawn apart")
    args = parser.parse_args()
    cells = speak_cells(args)
    indexes = {name: DocIndex.load(bench_index(n)) for name, n in INDEXES.items()}
    rows = [measure(c, cells, indexes) for c in args.checkpoints]
    reference = measure(args.reference, cells, indexes) if args.reference else None
    everything = rows + ([reference] if reference else [])
    print(json.dumps(everything))
    if args.no_write:
        return
    plot(rows, reference, {name: len(index) for name, index in indexes.items()}, HERE / "size_curve.png")
    command = " ".join([".venv/bin/python benchmarks/size_curve.py", *sys.argv[1:]])
    write_section("size-curve", report(everything, len(read_queries(cells[0].queries, need_audio=False)), args.split, command))
    print("wrote the size-curve section of benchmarks/RESULTS.md and benchmarks/size_curve.png", file=sys.stderr)


if __name__ == "__main__":
    main()
