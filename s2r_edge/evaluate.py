"""Retrieval quality and latency of spoken queries, per system, on one index and one teacher.

Systems: `s2r` (the .pte streamed chunk by chunk, straight from audio), `cascade-asr` (PocketSphinx
transcript through the teacher) and `cascade-gt` (the true transcript through the teacher: the upper bound). Metrics: MRR@10, R@1, R@10, and the time from the end of
the audio to the hits (median and p90).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from s2r_edge import cascade
from s2r_edge.audio import load_audio
from s2r_edge.errors import S2RError
from s2r_edge.runtime import Searcher
from s2r_edge.texts import Query

SYSTEMS = ("s2r", "cascade-asr", "cascade-gt")


@dataclass(frozen=True)
class SystemScore:
    """Metrics of one system over a set of queries."""

    mrr10: float
    r1: float
    r10: float
    latency_ms_p50: float
    latency_ms_p90: float
    n: int

    def to_json(self) -> dict:
        return {
            "mrr@10": round(self.mrr10, 4),
            "r@1": round(self.r1, 4),
            "r@10": round(self.r10, 4),
            "latency_ms_p50": round(self.latency_ms_p50, 3),
            "latency_ms_p90": round(self.latency_ms_p90, 3),
            "n": self.n,
        }


def reciprocal_rank(ranked: list[str], relevant: tuple[str, ...], k: int = 10) -> float:
    """1/rank of the first relevant id within the top k, else 0."""
    return next((1.0 / r for r, i in enumerate(ranked[:k], 1) if i in relevant), 0.0)


def score(rr: list[float], latencies: list[float]) -> SystemScore:
    arr = np.array(rr)
    return SystemScore(
        mrr10=float(arr.mean()),
        r1=float((arr == 1.0).mean()),
        r10=float((arr > 0).mean()),
        latency_ms_p50=float(np.percentile(latencies, 50)),
        latency_ms_p90=float(np.percentile(latencies, 90)),
        n=len(rr),
    )


def check_labels(queries: list[Query], searcher: Searcher, path: str | Path) -> None:
    """Every relevant id must name a document of the index."""
    known = {d.id for d in searcher.index.docs}
    for q in queries:
        unknown = [r for r in q.relevant if r not in known]
        if unknown:
            raise S2RError(f"{path}:{q.line}: relevant doc ids not in the index: {', '.join(unknown)}")


def evaluate(
    searcher: Searcher, queries: list[Query], systems: tuple[str, ...] = SYSTEMS, progress: bool = True
) -> dict[str, SystemScore]:
    """Run every system on every query (same index, same teacher) and score them. `cascade-asr` adapts to the
    channel over the queries, in their order, as a live decoder does in one place; it starts each call as loaded, so
    that a run's scores do not depend on what was evaluated before it."""
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        raise S2RError(f"unknown system {', '.join(unknown)}; choose from {', '.join(SYSTEMS)}")
    if {"cascade-asr", "cascade-gt"} & set(systems):
        cascade.search_text(searcher.index, "warm up")  # load the teacher before anything is timed
    if "cascade-asr" in systems:
        cascade.reset()
    results: dict[str, tuple[list[float], list[float]]] = {s: ([], []) for s in systems}
    for q in tqdm(queries, desc="eval", disable=not progress, mininterval=5):
        samples = load_audio(q.audio) if set(systems) - {"cascade-gt"} else None  # cascade-gt needs no audio
        for system in systems:
            if system == "s2r":
                r = searcher.search_samples(samples, k=10)
                hits, ms = r.hits, r.end_to_hits_ms
            elif system == "cascade-asr":
                hits, ms, _ = cascade.search_speech(searcher.index, samples)
            else:
                hits, ms = cascade.search_text(searcher.index, q.text)
            results[system][0].append(reciprocal_rank([h.id for h in hits], q.relevant))
            results[system][1].append(ms)
    return {s: score(*results[s]) for s in systems}
