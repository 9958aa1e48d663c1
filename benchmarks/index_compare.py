"""Compact index benchmark: our hnswlib index (4-bit PCA codes walk the graph, vectors on disk) against hnswlib at its defaults, FAISS HNSW
(flat and SQ8), USearch (f16 and i8) and exact numpy search, in one run on real teacher vectors.

Per system: recall@10 against exact search in the full 384-d teacher space, query p50/p99 on one thread, build
time, bytes per doc on disk and in RAM (RSS growth of a fresh process that loads the saved index and runs
queries). Then our default at 10k / 100k / 1M docs, and end-to-end MRR@10 of spoken test queries (the shipped int8
student) with each index against exact search. Writes the `index-compare` section of benchmarks/RESULTS.md and
benchmarks/index_compare.png. Run: `make index-compare` (needs the `bench` extra: faiss-cpu, usearch).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import numpy as np

from s2r_edge.compact import CompactGraph
from s2r_edge.index import COMPACT, COMPACT_HNSW, Compression, DocIndex, HnswParams, default_settings
from s2r_edge.teacher import embed_texts
from s2r_edge.texts import DEMO_DOCS, DEMO_QUERIES, DEV_QUERIES, Doc, read_docs, read_queries, wordnet_glosses, wordnet_sentences

from results import write_section

HERE = Path(__file__).resolve().parent
BUILD = HERE.parent / "build" / "bench"
CACHE = BUILD / "teacher_cache.npz"
K = 10
HELD_OUT_SENTENCES = 680  # WordNet example sentences kept out of the index and used as queries
SPOKEN_VOICE = "espeak:en-gb-x-gbclan+f4"  # a held-out voice; the same folder layout as benchmarks/eval_bench.py
SPOKEN_QUERIES = BUILD / "audio" / "espeak_en-gb-x-gbclan_f4" / "clean" / "queries.jsonl"


def teacher_vectors(texts: list[str], cache: Path = CACHE) -> np.ndarray:
    """Teacher vectors of `texts`, computed once and kept (float16) in `cache`; returned float32, unit length."""
    known: dict[str, np.ndarray] = {}
    if cache.is_file():
        z = np.load(cache, allow_pickle=False)
        known = dict(zip(z["texts"].tolist(), z["vectors"]))
    missing = list(dict.fromkeys(t for t in texts if t not in known))
    if missing:
        print(f"embedding {len(missing)} texts with the teacher (cached in {cache})", file=sys.stderr)
        known.update(zip(missing, embed_texts(missing, progress=True).astype(np.float16)))
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, texts=np.array(list(known)), vectors=np.stack(list(known.values())))
        tmp.replace(cache)
    vecs = np.stack([known[t] for t in texts]).astype(np.float32)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


@dataclass
class Data:
    """Real doc vectors (app docs first), their ids, and the query vectors."""

    docs: np.ndarray
    app_ids: list[str]
    queries: np.ndarray


def load_data(n_glosses: int) -> Data:
    """App docs + `n_glosses` WordNet glosses (seeded sample) + WordNet example sentences, minus the held-out
    sentences, which join the test and dev query texts as queries."""
    app = read_docs(DEMO_DOCS)
    glosses = wordnet_glosses()
    random.Random(0).shuffle(glosses)
    sentences = wordnet_sentences()
    random.Random(1).shuffle(sentences)
    held, kept = sentences[:HELD_OUT_SENTENCES], sentences[HELD_OUT_SENTENCES:]
    query_texts = [q.text for p in (DEMO_QUERIES, DEV_QUERIES) for q in read_queries(p, need_audio=False)] + held
    doc_texts = [d.text for d in app] + [d.text for d in glosses[:n_glosses]] + kept
    return Data(teacher_vectors(doc_texts), [d.id for d in app], teacher_vectors(query_texts))


def grow(real: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """`n` doc vectors: a sample of the real ones, or all of them plus synthetic ones, each a random mix
    a*x + (1-a)*y of two real vectors (a uniform in 0.25..0.75) plus Gaussian noise of norm about 0.2, renormalised."""
    rng = np.random.default_rng(seed)
    if n <= len(real):
        return real[np.sort(rng.choice(len(real), n, replace=False))]
    extra = []
    for start in range(0, n - len(real), 100_000):
        m = min(100_000, n - len(real) - start)
        i, j = rng.integers(len(real), size=(2, m))
        a = rng.uniform(0.25, 0.75, size=(m, 1)).astype(np.float32)
        v = a * real[i] + (1 - a) * real[j] + rng.normal(0, 0.2 / np.sqrt(real.shape[1]), (m, real.shape[1])).astype(np.float32)
        extra.append(v / np.linalg.norm(v, axis=1, keepdims=True))
    return np.vstack([real, *extra])


def exact_top(docs: np.ndarray, queries: np.ndarray, k: int = K) -> np.ndarray:
    """Exact top-k labels by cosine, in blocks of docs to bound memory."""
    best_s = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(docs), 200_000):
        s = queries @ docs[start:start + 200_000].T
        top = np.argpartition(-s, k - 1, axis=1)[:, :k] if s.shape[1] > k else np.tile(np.arange(s.shape[1]), (len(s), 1))
        best_s = np.hstack([best_s, np.take_along_axis(s, top, 1)])
        best_i = np.hstack([best_i, top + start])
        keep = np.argsort(-best_s, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(best_s, keep, 1), np.take_along_axis(best_i, keep, 1)
    return best_i


# --- the systems: build in this process, save, load again in a fresh process for RAM --------------------------


@dataclass(frozen=True)
class System:
    """One index configuration: `kind` names the library, the rest its settings."""

    name: str
    kind: str  # ours | faiss-flat | faiss-sq8 | usearch-f16 | usearch-i8 | exact
    M: int = 16
    ef_construction: int = 100
    ef_search: int = 64
    dim: int | None = None  # ours: PCA components in the codes (None: all vectors in RAM, hnswlib)
    rerank: int = COMPACT.rerank


def build(system: System, docs: np.ndarray, out: Path):  # type: ignore[no-untyped-def]
    """Build `system` over `docs` (2 threads), save it under `out`; returns the in-memory searcher."""
    out.mkdir(parents=True, exist_ok=True)
    if system.kind == "exact":
        np.save(out / "vectors.npy", docs)
        return docs
    if system.kind == "ours":
        params = HnswParams(M=system.M, ef_construction=system.ef_construction, ef_search=system.ef_search)
        compression = Compression(dim=system.dim, rerank=system.rerank) if system.dim else None
        DocIndex.build([Doc(str(i), "-") for i in range(len(docs))], docs, params, compression).save(out / "index")
        return load_saved(system, out, with_ids=True)
    if system.kind.startswith("faiss"):
        import faiss

        faiss.omp_set_num_threads(2)
        if system.kind == "faiss-flat":
            index = faiss.IndexHNSWFlat(docs.shape[1], system.M, faiss.METRIC_INNER_PRODUCT)
        else:
            index = faiss.IndexHNSWSQ(docs.shape[1], faiss.ScalarQuantizer.QT_8bit, system.M, faiss.METRIC_INNER_PRODUCT)
            index.train(docs)
        index.hnsw.efConstruction = system.ef_construction
        index.add(docs)
        index.hnsw.efSearch = system.ef_search
        faiss.write_index(index, str(out / "index.faiss"))
        faiss.omp_set_num_threads(1)
        return index
    from usearch.index import Index

    index = Index(ndim=docs.shape[1], metric="ip", dtype=system.kind.split("-")[1], connectivity=system.M,
                  expansion_add=system.ef_construction, expansion_search=system.ef_search)
    index.add(np.arange(len(docs)), docs, threads=2)
    index.save(str(out / "index.usearch"))
    return index


def query_fn(system: System, index):  # type: ignore[no-untyped-def]
    """A function: one query vector -> top-K labels, single-threaded."""
    if system.kind == "exact":
        def exact(q: np.ndarray) -> np.ndarray:
            scores = index @ q
            top = np.argpartition(-scores, K)[:K]
            return top[np.argsort(-scores[top])]

        return exact
    if system.kind == "ours":
        return lambda q: [int(h.id) for h in index.search(q, K)]
    if system.kind.startswith("faiss"):
        return lambda q: index.search(q[None, :], K)[1][0]
    return lambda q: index.search(q, K, threads=1).keys


def load_saved(system: System, out: Path, with_ids: bool = False):  # type: ignore[no-untyped-def]
    """What a fresh process holds to search a saved index; ours without docs.jsonl's per-doc Python objects
    unless `with_ids` (then a hit's id is its label)."""
    if system.kind == "exact":
        return np.load(out / "vectors.npy")
    if system.kind == "ours":
        import hnswlib

        path = out / "index"
        manifest = json.loads((path / "manifest.json").read_text())
        n, dim = manifest["count"], manifest["dim"]
        rows = [Doc(str(i), "-") for i in range(n)] if with_ids else [Doc("0", "-")] * n
        if manifest["codes"]:
            graph = CompactGraph.open(path / "index.hnsw", path / manifest["codes"]["file"], n, dim,
                                      manifest["projection"]["out_dim"])
            return DocIndex(graph, rows, manifest)
        graph = hnswlib.Index(space="ip", dim=dim)
        graph.load_index(str(path / "index.hnsw"), max_elements=n)
        return DocIndex(graph, rows, manifest)
    if system.kind.startswith("faiss"):
        import faiss

        faiss.omp_set_num_threads(1)
        index = faiss.read_index(str(out / "index.faiss"))
        index.hnsw.efSearch = system.ef_search
        return index
    from usearch.index import Index

    return Index.restore(str(out / "index.usearch"))


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def rss_child(system_json: str, out: str, queries: str) -> None:
    """In a fresh process: RSS growth from loading the saved index and running the queries, printed as JSON."""
    system = System(**json.loads(system_json))
    import faiss  # noqa: F401  (libraries imported before the baseline, so only the index is counted)
    import hnswlib  # noqa: F401
    import usearch.index  # noqa: F401

    qs = np.load(queries)
    base = _rss()
    index = load_saved(system, Path(out))
    search = query_fn(system, index)
    for q in qs:
        search(q)
    print(json.dumps({"rss_bytes": _rss() - base}))


def rss_of(system: System, out: Path, queries: Path) -> int:
    run = subprocess.run([sys.executable, __file__, "--rss-child", json.dumps(system.__dict__), str(out), str(queries)],
                         capture_output=True, text=True, check=True)
    return int(json.loads(run.stdout.strip().splitlines()[-1])["rss_bytes"])


def disk_bytes(system: System, out: Path) -> int:
    """Bytes of the vector index on disk (for ours: index.hnsw + codes.npz; docs.jsonl not counted)."""
    return sum(p.stat().st_size for p in out.rglob("*") if p.is_file() and p.name not in ("docs.jsonl", "manifest.json"))


def measure(system: System, docs: np.ndarray, queries: np.ndarray, truth: np.ndarray, work: Path) -> dict:
    out = work / system.name.replace(" ", "_")
    t0 = time.perf_counter()
    index = build(system, docs, out)
    build_s = time.perf_counter() - t0
    search = query_fn(system, index)
    times, found = [], []
    for q in queries:
        t = time.perf_counter()
        found.append(search(q))
        times.append((time.perf_counter() - t) * 1000)
    recall = float(np.mean([len(set(map(int, f)) & set(t.tolist())) / K for f, t in zip(found, truth)]))
    qfile = work / "queries.npy"
    np.save(qfile, queries[:200])
    row = {"system": system.name, "docs": len(docs), "recall@10": recall,
           "p50_ms": float(np.percentile(times, 50)), "p99_ms": float(np.percentile(times, 99)), "build_s": build_s,
           "disk_B/doc": disk_bytes(system, out) / len(docs), "ram_B/doc": rss_of(system, out, qfile) / len(docs)}
    print(json.dumps(row), file=sys.stderr)
    return row


# --- end-to-end: spoken test queries through the shipped student --------------------------------------------------


def student_vectors(queries_file: Path) -> tuple[np.ndarray, list]:
    """The shipped int8 student's query vectors for a spoken queries file (searcher only used to stream)."""
    from s2r_edge.audio import load_audio
    from s2r_edge.runtime import PteEncoder, Searcher

    qs = read_queries(queries_file)
    dummy = DocIndex.build([Doc("x", "x")], np.eye(1, 384, dtype=np.float32))
    searcher = Searcher(PteEncoder(), dummy)
    return np.stack([searcher.search_samples(load_audio(q.audio)).embedding for q in qs]), qs


def mrr(top: list[list[int]], ids: list[str], relevant: list[tuple[str, ...]]) -> float:
    total = 0.0
    for labels, rel in zip(top, relevant):
        for rank, label in enumerate(labels[:K], 1):
            if label < len(ids) and ids[label] in rel:
                total += 1 / rank
                break
    return total / len(top)


def end_to_end(data: Data, systems: list[System], queries_file: Path, work: Path) -> list[dict]:
    """MRR@10 of the spoken test queries (student vectors) and of their transcripts (teacher vectors), each index
    against exact search, over the app docs + every real distractor."""
    student, qs = student_vectors(queries_file)
    teacher = teacher_vectors([q.text for q in qs])
    relevant = [q.relevant for q in qs]
    rows = []
    for system in systems:
        out = work / ("e2e-" + system.name.replace(" ", "_"))
        index = build(system, data.docs, out)
        search = query_fn(system, index)
        row = {"system": system.name, "docs": len(data.docs)}
        for name, vecs in (("student", student), ("transcript", teacher)):
            top = [list(map(int, search(v))) for v in vecs]
            row[f"mrr_{name}"] = mrr(top, data.app_ids, relevant)
        print(json.dumps(row), file=sys.stderr)
        rows.append(row)
    return rows


# --- report ---------------------------------------------------------------------------------------------------


def plot(rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.6))
    for r in rows:
        ours = r["system"].startswith("ours")
        ax.scatter(r["ram_B/doc"], r["recall@10"], marker="o" if ours else "s", color="tab:blue" if ours else "tab:orange")
        ax.annotate(r["system"], (r["ram_B/doc"], r["recall@10"]), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.axvline(300, color="grey", ls=":", label="target: 300 B/doc")
    ax.axhline(0.97, color="grey", ls="--", label="target: recall@10 0.97")
    ax.set_xscale("log")
    ax.set_xlabel("bytes per doc in RAM (RSS growth in a fresh process, log scale)")
    ax.set_ylabel("recall@10 vs exact 384-d search")
    ax.set_title(f"{rows[0]['docs']:,} teacher vectors: recall against memory")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def table(rows: list[dict]) -> str:
    lines = ["| system | docs | recall@10 | p50 ms | p99 ms | build s | disk B/doc | RAM B/doc |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['system']} | {r['docs']:,} | {r['recall@10']:.3f} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} | "
              f"{r['build_s']:.1f} | {r['disk_B/doc']:.0f} | {r['ram_B/doc']:.0f} |" for r in rows]
    return "\n".join(lines)


def report(args: argparse.Namespace, data: Data, compare: list[dict], scale: list[dict], e2e: list[dict],
           minutes: float) -> str:
    e2e_lines = ["| index | docs | MRR@10 spoken (student) | MRR@10 transcript (teacher) |", "|---|---|---|---|"]
    e2e_lines += [f"| {r['system']} | {r['docs']:,} | {r['mrr_student']:.3f} | {r['mrr_transcript']:.3f} |" for r in e2e]
    return f"""## Compact index: ours vs hnswlib defaults, FAISS, USearch, exact ({date.today()})

Command: `make index-compare` (`.venv/bin/python benchmarks/index_compare.py --glosses {args.glosses}
--size {args.size} --scale {args.scale}`), {minutes:.0f} min on this shared 2-core machine, {platform.machine()},
Python {platform.python_version()}. Builds use 2 threads, queries 1 thread, one query at a time.

**Vectors.** Real all-MiniLM-L6-v2 vectors (384-d, unit): the {len(data.app_ids)} app docs, {args.glosses:,} WordNet
gloss docs (seeded sample of 117,659), and the WordNet example sentences minus {HELD_OUT_SENTENCES} held out:
{len(data.docs):,} real docs. Beyond that, synthetic docs: a random mix a·x + (1−a)·y of two real vectors
(a uniform in 0.25–0.75) plus Gaussian noise of norm ≈ 0.2, renormalised. So 10k = real only,
{args.size:,} = {min(len(data.docs), args.size):,} real + the rest synthetic, 1M = {len(data.docs):,} real + synthetic.
**Queries** ({len(data.queries)}): the 320 test and dev query texts plus the {HELD_OUT_SENTENCES} held-out
sentences, as teacher vectors. **Recall@10** is against exact float32 search in the full 384-d space.
**RAM** is the RSS growth of a fresh process that loads the saved index and runs 200 queries (libraries imported
first), divided by the docs; for ours it counts the graph's links and labels, codes.npz and the open index.hnsw,
but not the docs' texts. **Disk** is the index files (docs.jsonl and manifest excluded).
Ours (compact) = the hnswlib graph of the full 384-d vectors, built by hnswlib (efConstruction
{COMPACT_HNSW.ef_construction}); for search only its links are read into RAM, with 4-bit codes of each doc's top-`dim`
PCA components (codes.npz). The walk (C, s2r_edge/_walk.c) scores nodes by their codes; the best {COMPACT.rerank}
are rescored exactly with their float32 vectors, read from index.hnsw on disk with pread, so the vectors stay in
the OS page cache (reclaimable, not the process's RAM) or on flash: each query reads {COMPACT.rerank} × 1,536 B.
Latency is `DocIndex.search`, Python included,
with the page cache warm (the whole index file fits in RAM here). Comparators are at 384-d, M=16, efConstruction 100,
efSearch 64; "hnswlib in RAM" = the v1 index (M=16, efConstruction 200, efSearch 64).

![recall against bytes per doc](index_compare.png)

### Side by side at {compare[0]['docs']:,} docs

{table(compare)}

### Our default ({COMPACT_HNSW.M} links, codes of {COMPACT.dim} PCA components, rerank {COMPACT.rerank}) by corpus size

efSearch as `index build` picks it for the corpus size (`default_settings`); the 1M graph is built with a
narrower efConstruction to keep the run short.

{table(scale)}

### End to end: MRR@10 over the app docs + {len(data.docs) - len(data.app_ids):,} real distractors

Spoken test queries: `{os.path.relpath(args.queries, HERE.parent)}` through the shipped int8 student (ExecuTorch runtime); transcripts: the
same queries' text through the teacher.

{chr(10).join(e2e_lines)}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--glosses", type=int, default=16384, help="WordNet glosses among the real docs (embedding "
                        "all 117,659 takes about half an hour on 2 cores; cached)")
    parser.add_argument("--size", type=int, default=100_000, help="docs in the side-by-side comparison")
    parser.add_argument("--scale", default="10000,100000,1000000", help="corpus sizes for our default")
    parser.add_argument("--scale-ef-construction", type=int, default=64, help="ours at 1M+ builds with this ef")
    parser.add_argument("--queries", type=Path, default=SPOKEN_QUERIES,
                        help=f"spoken test queries for end-to-end MRR (default: spoken by {SPOKEN_VOICE} if missing)")
    parser.add_argument("--no-write", action="store_true", help="print the JSON, leave RESULTS.md alone")
    parser.add_argument("--rss-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(*args.rss_child)
        return
    t0 = time.time()
    if args.queries == SPOKEN_QUERIES and not SPOKEN_QUERIES.is_file():
        from s2r_edge.synth import speak_queries

        speak_queries(DEMO_QUERIES, SPOKEN_VOICE, SPOKEN_QUERIES.parent)
    data = load_data(args.glosses)
    ours = System(f"ours (default) codes PCA{COMPACT.dim} M{COMPACT_HNSW.M} ef{COMPACT_HNSW.ef_search}", "ours", COMPACT_HNSW.M,
                  COMPACT_HNSW.ef_construction, COMPACT_HNSW.ef_search, COMPACT.dim, COMPACT.rerank)
    defaults = System("hnswlib in RAM 384-d M16 (s2r-edge v1)", "ours", 16, 200, 64)
    curve = [replace(ours, name=f"ours codes PCA{d} M{ours.M} ef{ours.ef_search}", dim=d) for d in (128, 320)]
    curve += [replace(ours, name=f"ours codes PCA{ours.dim} M8 ef{ours.ef_search}", M=8),
              *(replace(ours, name=f"ours codes PCA{ours.dim} M{ours.M} ef{ef}", ef_search=ef) for ef in (48, 96))]
    others = [System("FAISS HNSW flat", "faiss-flat"), System("FAISS HNSW SQ8", "faiss-sq8"),
              System("USearch f16", "usearch-f16"), System("USearch i8", "usearch-i8"), System("exact numpy", "exact")]
    with tempfile.TemporaryDirectory(dir=BUILD.parent if BUILD.parent.exists() else None) as tmp:
        work = Path(tmp)
        docs = grow(data.docs, args.size)
        truth = exact_top(docs, data.queries)
        compare = [measure(s, docs, data.queries, truth, work / "compare") for s in [ours, defaults, *curve, *others]]
        scale = []
        for n in (int(x) for x in args.scale.split(",")):
            if n == args.size:
                scale.append(compare[0])
                continue
            docs = grow(data.docs, n)
            ef = default_settings(n)[0].ef_search  # the beam `index build` picks for this many docs
            system = replace(ours, ef_search=ef, name=ours.name.replace(f"ef{ours.ef_search}", f"ef{ef}"))
            if n >= 1_000_000:
                system = replace(system, ef_construction=args.scale_ef_construction,
                                 name=system.name + f" efC{args.scale_ef_construction}")
            scale.append(measure(system, docs, data.queries, exact_top(docs, data.queries), work / f"scale{n}"))
            del docs
        e2e = end_to_end(data, [System("exact numpy", "exact"), defaults, ours], args.queries, work / "e2e")
    results = {"compare": compare, "scale": scale, "end_to_end": e2e}
    print(json.dumps(results))
    if args.no_write:
        return
    (HERE / "index_compare.json").write_text(json.dumps(results, indent=1) + "\n")
    plot(compare, HERE / "index_compare.png")
    write_section("index-compare", report(args, data, compare, scale, e2e, (time.time() - t0) / 60))
    print("wrote the index-compare section of benchmarks/RESULTS.md and benchmarks/index_compare.png", file=sys.stderr)


if __name__ == "__main__":
    main()
