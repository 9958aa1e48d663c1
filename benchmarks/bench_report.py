"""Run `s2r-edge bench` with 1 and 2 encoder threads in one process and write the bench section of RESULTS.md.

Run: .venv/bin/python benchmarks/bench_report.py   (about 2 minutes on 2 cores)
"""

from __future__ import annotations

import platform
from datetime import date

from s2r_edge.bench import BenchConfig, run_bench
from s2r_edge.cli import demo_index

from results import write_section


def main() -> None:
    index = demo_index()
    runs = [run_bench(index, cfg=BenchConfig(threads=t)) for t in (1, 2)]
    keys = [k for k in runs[0] if k not in ("model", "threads")]
    rows = "\n".join(f"| {k} | {runs[0][k]} | {runs[1][k]} |" for k in keys)
    write_section("bench", f"""## Latency and memory, quick bench ({date.today()})

Command: `.venv/bin/python benchmarks/bench_report.py` (`s2r-edge bench --json --threads N`, N = 1 then 2, one process).
Machine: {platform.machine()}, the shared 2-core CI box; medians over
{runs[0]['steps']} encoder steps ({BenchConfig.queries} demo queries spoken by a training voice, {BenchConfig.repeats} passes).
Model: `{runs[0]['model']}`. Index: the {runs[0]['index_docs']}-document demo corpus (a 100k index is issue 6/7 work).
`rss_at_start_mb` is the Python process with torch imported (ExecuTorch's Python runtime needs it);
`rss_model_mb` includes importing the ExecuTorch runtime, which also imports its export stack, and
`model_load_ms` likewise (in the 2-thread column those imports are already done, so it is the load alone).
The cascades (teacher, PocketSphinx) load only after `runtime_rss_mb` is read. The 2-thread run follows in the
same process, so its memory rows include everything the first run loaded: read memory in the 1-thread column.

| figure | 1 thread | 2 threads |
|---|---|---|
{rows}
""")
    print("wrote the bench section of benchmarks/RESULTS.md")


if __name__ == "__main__":
    main()
