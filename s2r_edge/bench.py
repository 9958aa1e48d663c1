"""Quick latency and memory bench of the shipped model: encoder step, end of speech -> hits per system, RSS.

All systems run in one process on the same index and the same spoken queries, so ratios are fair on a
noisy machine. Memory is read from /proc: what loading the model and the index and a streaming loop add,
before the cascades (torch's text teacher, PocketSphinx) are loaded; the peak covers the whole run.
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from s2r_edge import cascade
from s2r_edge.index import DocIndex
from s2r_edge.runtime import DEFAULT_MODEL, PteEncoder, Searcher
from s2r_edge.texts import DEMO_QUERIES, read_queries
from s2r_edge.voices import DEMO_VOICE, Voice


@dataclass(frozen=True)
class BenchConfig:
    """What the quick bench runs."""

    queries: int = 12  # demo queries spoken by the demo voice
    repeats: int = 3  # passes over the queries for the timings
    threads: int = 1  # encoder threads


def rss_mb() -> float:
    """Resident set size of this process now, MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _p(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 3)


def run_bench(index_dir: str | Path, model: str | Path | None = None, cfg: BenchConfig = BenchConfig()) -> dict:
    """Measure everything once; returns the figures as a flat dict (see the CLI's `bench --json`)."""
    model = Path(model or DEFAULT_MODEL)
    rss_start = rss_mb()
    t0 = time.perf_counter()
    encoder = PteEncoder(model, threads=cfg.threads)
    load_ms = (time.perf_counter() - t0) * 1000
    rss_model = rss_mb()
    index = DocIndex.load(index_dir)
    rss_index = rss_mb()
    searcher = Searcher(encoder, index)
    voice = Voice.parse(DEMO_VOICE)
    queries = read_queries(DEMO_QUERIES, need_audio=False)[: cfg.queries]
    speech = [voice.speak(q.text) for q in queries]

    n = encoder.info.chunk_samples
    steps, s2r = [], []
    for _ in range(cfg.repeats):
        for wav in speech:
            state = encoder.initial_state()
            for start in range(0, len(wav) - n + 1, n):
                t = time.perf_counter()
                _, state = encoder.step(np.ascontiguousarray(wav[start : start + n]), state)
                steps.append((time.perf_counter() - t) * 1000)
            s2r.append(searcher.search_samples(wav, k=10).end_to_hits_ms)
    rss_runtime = rss_mb()

    asr, gt = [], []
    for _ in range(cfg.repeats):
        for wav in speech:
            asr.append(cascade.search_speech(index, wav)[1])
        for q in queries:
            gt.append(cascade.search_text(index, q.text)[1])
    step_p50 = _p(steps, 50)
    return {
        "model": model.name,
        "model_mb": round(model.stat().st_size / 1e6, 3),
        "threads": cfg.threads,
        "index_docs": len(index),
        "chunk_ms": encoder.info.chunk_samples / encoder.info.sample_rate * 1000,
        "steps": len(steps),
        "step_ms_p50": step_p50,
        "step_ms_p90": _p(steps, 90),
        "real_time_factor": round(step_p50 / (n / encoder.info.sample_rate * 1000), 5),
        "end_to_hits_ms_p50": _p(s2r, 50),
        "end_to_hits_ms_p90": _p(s2r, 90),
        "cascade_asr_end_to_hits_ms_p50": _p(asr, 50),
        "cascade_gt_end_to_hits_ms_p50": _p(gt, 50),
        "speedup_vs_cascade_asr": round(_p(asr, 50) / _p(s2r, 50), 1),
        "model_load_ms": round(load_ms, 2),
        "rss_at_start_mb": round(rss_start, 1),
        "rss_model_mb": round(rss_model - rss_start, 1),
        "rss_index_mb": round(rss_index - rss_model, 1),
        "rss_streaming_mb": round(rss_runtime - rss_index, 1),
        "runtime_rss_mb": round(rss_runtime, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
