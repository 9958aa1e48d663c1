"""`make bench`: the pytest-benchmark suites, the quick bench at 1 and 2 threads and the native runner, in one
run on the 100k-document benchmark index; tables into the `bench` section of RESULTS.md, plots beside it.

Run: .venv/bin/python benchmarks/bench_report.py   (about 10 minutes on 2 cores once the index is built)
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from datetime import date
from pathlib import Path

from s2r_edge.bench import BenchConfig, run_bench

from eval_bench import BUILD, bench_index
from results import write_section

HERE = Path(__file__).resolve().parent
SUITE_JSON = BUILD / "speed.json"
NATIVE = HERE / "native" / "build" / "s2r_native"


def run_suite() -> list[dict]:
    """benchmarks/test_speed.py under pytest-benchmark; also autosaved under .benchmarks/ for --benchmark-compare."""
    cmd = [sys.executable, "-m", "pytest", "-q", str(HERE / "test_speed.py"), "--benchmark-autosave",
           f"--benchmark-json={SUITE_JSON}", "--benchmark-save-data", "--benchmark-columns=median,iqr,min,rounds"]
    subprocess.run(cmd, check=True, cwd=HERE.parent)
    return json.loads(SUITE_JSON.read_text())["benchmarks"]


def run_native(index: Path, n_queries: int = 6) -> dict:
    """The C++ runner (`make native`) on the 100k index: median step and end-of-speech -> hits, peak RSS."""
    import numpy as np
    import soundfile as sf

    from s2r_edge.runtime import DEFAULT_MODEL
    from s2r_edge.texts import DEMO_QUERIES, read_queries
    from s2r_edge.voices import DEMO_VOICE, Voice

    if not NATIVE.is_file():
        sys.exit(f"{NATIVE} is missing: run `make native` first (make bench does)")
    voice, runs = Voice.parse(DEMO_VOICE), []
    for q in read_queries(DEMO_QUERIES, need_audio=False)[:n_queries]:
        wav = BUILD / "native-query.wav"
        sf.write(wav, voice.speak(q.text), 16000, subtype="PCM_16")
        cmd = [str(NATIVE), "--model", str(DEFAULT_MODEL), "--index", str(index), "--audio", str(wav), "--threads", "1"]
        runs.append(json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout))
    return {
        "step_ms_p50": round(float(np.median([x for r in runs for x in r["chunk_ms"][1:]])), 3),
        "end_to_hits_ms_p50": round(float(np.median([r["end_to_hits_ms"] for r in runs])), 3),
        "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs), 1),
        "queries": len(runs),
    }


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f}"


def suite_table(benchmarks: list[dict]) -> str:
    rows = [f"| {b['group']} | {b['name'].removeprefix('test_')} | {ms(b['stats']['median'])} | "
            f"{ms(b['stats']['q1'])} – {ms(b['stats']['q3'])} | {b['stats']['rounds']} |" for b in benchmarks]
    return "| group | benchmark | median ms | IQR ms | rounds |\n|---|---|---|---|---|\n" + "\n".join(rows)


def plot_latency(benchmarks: list[dict], out: Path) -> None:
    """Box plots of every timing, per encoder program and per system (log scale: they span 4 decades)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [g for g in dict.fromkeys(b["group"] for b in benchmarks) if g != "load"]
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 4))
    for ax, group in zip(axes, groups):
        rows = [b for b in benchmarks if b["group"] == group]
        ax.boxplot([[x * 1000 for x in b["stats"]["data"]] for b in rows], showfliers=False)
        ax.set_xticks(range(1, len(rows) + 1), [b["name"].removeprefix("test_").replace("_", " ") for b in rows],
                      rotation=25, ha="right", fontsize=8)
        ax.set_yscale("log")
        ax.set_title(group, fontsize=9)
        ax.set_ylabel("ms")
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def plot_memory(quick: dict, native: dict, out: Path) -> None:
    """Resident memory of the Python runtime, stacked by what added it, beside the native runner's peak."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parts = [("interpreter + torch", "rss_at_start_mb"), ("+ ExecuTorch runtime and model", "rss_model_mb"),
             ("+ 100k-doc index", "rss_index_mb"), ("+ streaming loop", "rss_streaming_mb")]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    left = 0.0
    for label, key in parts:
        ax.barh(["Python runtime"], [quick[key]], left=left, label=f"{label}: {quick[key]:.0f} MB")
        left += quick[key]
    ax.barh(["native C++ runner"], [native["peak_rss_mb"]], color="tab:gray",
            label=f"native runner, model + 100k-doc index, peak: {native['peak_rss_mb']:.0f} MB")
    ax.axvline(60, color="k", ls="--", lw=1, label="target for the native runner: 60 MB")
    ax.set_xlabel("resident memory, MB")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=2)
    fig.savefig(out, dpi=110, bbox_inches="tight")


def main() -> None:
    index = bench_index()
    benchmarks = run_suite()
    quick = [run_bench(index, cfg=BenchConfig(threads=t)) for t in (1, 2)]
    native = run_native(index)
    plot_latency(benchmarks, HERE / "latency.png")
    plot_memory(quick[0], native, HERE / "memory.png")
    keys = [k for k in quick[0] if k not in ("model", "threads")]
    rows = "\n".join(f"| {k} | {quick[0][k]} | {quick[1][k]} |" for k in keys)
    machine = json.loads(SUITE_JSON.read_text())["machine_info"]
    write_section("bench", f"""## Latency and memory ({date.today()})

Command: `make bench` (`.venv/bin/python benchmarks/bench_report.py`): the pytest-benchmark suites of
`benchmarks/test_speed.py` (saved under `.benchmarks/`, compare runs with `--benchmark-compare`), then
`s2r-edge bench --index build/bench/index --json --threads N` for N = 1 and 2 in one process.
Machine: {machine.get('cpu', {}).get('brand_raw', platform.processor())}, {platform.machine()}, the shared 2-core box;
one encoder thread unless said. Index: the benchmark's {quick[0]['index_docs']} documents (app corpus + WordNet distractors).
Inputs are TTS speech of test queries by a training voice.

![latency per program and system](latency.png)

{suite_table(benchmarks)}

Quick bench (`s2r-edge bench`), medians over {quick[0]['steps']} encoder steps ({BenchConfig.queries} queries,
{BenchConfig.repeats} passes). `rss_at_start_mb` is Python with numpy, hnswlib and torch
imported: the ExecuTorch Python runtime links libtorch, so torch cannot be kept out of the Python run-time path (the
native runner has no torch). `rss_model_mb` is the ExecuTorch runtime extension and the program. The 2-thread run
follows in the same process, so read memory in the 1-thread column.

![memory](memory.png)

| figure | 1 thread | 2 threads |
|---|---|---|
{rows}

Native C++ runner (`benchmarks/native/build/s2r_native --threads 1`), the same 100k index, {native['queries']} test
queries: step {native['step_ms_p50']} ms p50, end of speech -> hits {native['end_to_hits_ms_p50']} ms p50, peak RSS
{native['peak_rss_mb']} MB (model + index + runtime, VmHWM).
""")
    print("wrote the bench section of benchmarks/RESULTS.md, latency.png and memory.png", file=sys.stderr)


if __name__ == "__main__":
    main()
