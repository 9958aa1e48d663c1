"""Does the same corpus make the same HNSW graph twice? The +100k bench index's own vectors linked into fresh graphs,
on one thread and on several, and the top-10 lists of the same queries compared between builds.

hnswlib's threaded inserts link the graph in whatever order the threads reach the vectors, which is why `DocIndex`
builds on one thread (s2r_edge/index.py, `_insert`). The queries are docs' vectors blurred with Gaussian noise, as a
student's imperfect vectors are. Writes the `index-repeat` section of benchmarks/RESULTS.md.
Run: .venv/bin/python benchmarks/index_repeat.py
"""

from __future__ import annotations

import argparse
import sys
import time

import hnswlib
import numpy as np

from eval_bench import bench_index
from index_compare import exact_top
from results import write_section
from s2r_edge.index import DocIndex, HnswParams

K = 10


def blurred(vectors: np.ndarray, n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` random docs' vectors plus noise of `noise / sqrt(dim)` a dimension, at unit length; and the docs' rows."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(vectors), n, replace=False)
    queries = vectors[rows] + rng.normal(0, noise / np.sqrt(vectors.shape[1]), (n, vectors.shape[1]))
    return (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32), rows


def top_k(vectors: np.ndarray, queries: np.ndarray, threads: int, params: HnswParams) -> tuple[np.ndarray, float]:
    """The top-K labels of each query in a graph of `vectors` built on `threads` threads, and the build's seconds."""
    graph = hnswlib.Index(space="ip", dim=vectors.shape[1])
    graph.init_index(max_elements=len(vectors), ef_construction=params.ef_construction, M=params.M)
    start = time.perf_counter()
    graph.add_items(vectors, np.arange(len(vectors)), num_threads=threads)
    seconds = time.perf_counter() - start
    graph.set_ef(params.ef_search)
    labels, _ = graph.knn_query(queries, k=K, num_threads=1)
    return labels, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=2000, help="blurred-doc queries (2000)")
    parser.add_argument("--noise", type=float, default=1.3, help="the queries' noise, times 1/sqrt(dim) a dimension")
    parser.add_argument("--threads", type=int, default=2, help="the threaded builds' threads (2)")
    parser.add_argument("--builds", type=int, default=2, help="builds of each setting (2)")
    parser.add_argument("--no-write", action="store_true", help="print the table, leave RESULTS.md as it is")
    args = parser.parse_args()
    index = DocIndex.load(bench_index())
    params = HnswParams(**index.manifest["hnsw"])
    vectors = np.asarray(index.graph.get_items(np.arange(len(index.rows))), dtype=np.float32)
    queries, rows = blurred(vectors, args.queries, args.noise, seed=0)
    exact = exact_top(vectors, queries, K)
    cosine = float(np.mean(np.sum(queries * vectors[rows], axis=1)))
    table = ["| threads | build | build time (s) | recall@10 against exact search | top-10 lists the same as build 1's |",
             "|---|---|---|---|---|"]
    for threads in (1, args.threads):
        first = None
        for build in range(1, args.builds + 1):
            labels, seconds = top_k(vectors, queries, threads, params)
            first = labels if first is None else first
            recall = np.mean([len(set(a) & set(b)) / K for a, b in zip(labels, exact)])
            same = sum(np.array_equal(a, b) for a, b in zip(labels, first))
            table.append(f"| {threads} | {build} | {seconds:.0f} | {recall:.4f} | {same:,} of {len(queries):,} |")
            print(table[-1], file=sys.stderr)
    body = (f"Command: `.venv/bin/python {' '.join(['benchmarks/index_repeat.py', *sys.argv[1:]])}`"
            f"\n\nThe bench index's {len(vectors):,} teacher vectors linked into fresh graphs (M {params.M}, "
            f"ef_construction {params.ef_construction}, ef {params.ef_search}); {len(queries):,} queries, each a doc's "
            f"vector blurred to mean cosine {cosine:.2f} with it, searched on one thread.\n\n" + "\n".join(table))
    if not args.no_write:
        write_section("index-repeat", body)
    print(body)


if __name__ == "__main__":
    main()
