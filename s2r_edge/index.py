"""The document index: an hnswlib HNSW graph of teacher vectors plus docs and a verified manifest.

Directory layout (DESIGN.md): `index.hnsw`, `docs.jsonl`, `manifest.json` holding the format version, dim,
metric, HNSW parameters, count, teacher id, projection and the sha256 of each file. index.hnsw always holds the
full teacher vectors. A compact index adds `codes.npz` (4-bit codes of the docs' PCA-rotated vectors,
s2r_edge/compact.py): loaded for search, only the graph's links and these codes stay in RAM and the full vectors
are read from disk for the final rescoring. Label i of the graph is row i of docs.jsonl; a removed doc keeps its
row as a tombstone until an add reuses it. A save is written to a temporary directory and renamed into place
under a lock; a load checks every checksum first.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Iterator

import numpy as np

from s2r_edge.compact import CODES_FILE, Codes, CompactGraph
from s2r_edge.errors import S2RError
from s2r_edge.teacher import TEACHER_ID
from s2r_edge.texts import Doc, read_docs

try:
    import hnswlib
except ImportError:  # a training host (DESIGN.md § GPU host) runs the CLI without it; `_new_graph` says so if used
    hnswlib = None

FORMAT = "s2r-edge-index"
FORMAT_VERSION = 3  # v3 carries codes.npz beside a v1 index.hnsw; an index without codes is written as v1
FILES = ("index.hnsw", "docs.jsonl")
REMOVED = "_removed"  # field marking a tombstone row of docs.jsonl (a removed doc whose label is deleted)
EXACT_BELOW = 2048  # a filter matching fewer docs than this is searched exactly, not through the graph


@dataclass(frozen=True)
class HnswParams:
    """hnswlib graph parameters: links per node, build-time and query-time beam widths."""

    M: int = 16
    ef_construction: int = 200
    ef_search: int = 64


@dataclass(frozen=True)
class Compression:
    """Compact search: the graph is walked by 4-bit codes of each doc's top `dim` PCA components, kept in RAM,
    and the best `rerank` candidates are rescored with the full vectors, read from disk."""

    dim: int = 256
    rerank: int = 32


# The `index build` default for large corpora, chosen with benchmarks/index_compare.py (RESULTS.md, index-compare).
COMPACT = Compression()
COMPACT_HNSW = HnswParams(M=16, ef_construction=100, ef_search=72)
COMPACT_FROM = 2000  # below this many docs the index is small anyway and a PCA fit on so few is not worth it


def default_settings(n_docs: int) -> tuple[HnswParams, Compression | None]:
    """The `index build` defaults for a corpus of `n_docs`: compact from COMPACT_FROM docs, else full vectors.
    A larger graph needs a wider beam for the same recall: efSearch 72 at 100k docs and 300 at 1M reach
    recall@10 0.97 (RESULTS.md, index-compare); sizes between follow the power law through those two points."""
    if n_docs < COMPACT_FROM:
        return HnswParams(), None
    ef = round(COMPACT_HNSW.ef_search * (n_docs / 100_000) ** 0.62)
    return replace(COMPACT_HNSW, ef_search=max(COMPACT_HNSW.ef_search, ef)), COMPACT


@dataclass(frozen=True)
class Hit:
    """One search result: doc id, cosine similarity to the query, the doc's text and other fields."""

    id: str
    score: float
    text: str
    meta: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"id": self.id, "score": round(self.score, 6), "text": self.text, **self.meta}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _new_graph(dim: int) -> hnswlib.Index:
    """An empty inner-product hnswlib graph of `dim`-d vectors."""
    if hnswlib is None:
        raise S2RError("hnswlib is not installed here (a training host?): install s2r-edge with `make setup` or "
                       "`pip install -e .` to build or load a doc index")
    return hnswlib.Index(space="ip", dim=dim)


def _insert(graph: hnswlib.Index, vectors: np.ndarray, labels: np.ndarray) -> None:
    """Link `vectors` into the graph under `labels`, on one thread: hnswlib's threaded inserts link the graph in
    whatever order the threads reach it, so the same docs would make a different graph, and results, each build."""
    graph.add_items(np.ascontiguousarray(vectors, dtype=np.float32), labels, num_threads=1)


def _tombstone(doc_id: str) -> Doc:
    return Doc(doc_id, "(removed)", {REMOVED: True})


def _is_removed(doc: Doc) -> bool:
    return bool(doc.meta.get(REMOVED))


def _filter_key(where: dict) -> str:
    """One cache key per filter, whatever the order of its items."""
    return json.dumps(where, sort_keys=True)


class DocIndex:
    """Docs and their vectors in an HNSW graph (cosine via inner product on unit vectors).

    `rows[i]` is the doc of graph label i (a tombstone for a removed doc). `graph` is an in-memory hnswlib index
    (editable) or, for a compact index loaded for search, a `CompactGraph` whose vectors stay on disk."""

    def __init__(self, graph: hnswlib.Index | CompactGraph, rows: list[Doc], manifest: dict,
                 codes: Codes | None = None) -> None:
        self.graph = graph
        self.rows = rows
        self.manifest = manifest
        self.codes = codes
        self.loaded_from: tuple[Path, str] | None = None  # (directory, manifest sha256) when loaded from disk
        self._slot = {d.id: i for i, d in enumerate(rows)}
        self._filters: dict[str, set[int]] = {}  # matching labels per filter, kept until the docs change
        self._masks: dict[str, np.ndarray] = {}  # the same as node masks for a CompactGraph

    @property
    def docs(self) -> list[Doc]:
        """The live documents, in label order."""
        return [d for d in self.rows if not _is_removed(d)]

    @property
    def dim(self) -> int:
        """Dimension of the query vectors this index takes (the teacher's)."""
        return int(self.manifest["dim"])

    @property
    def teacher(self) -> str:
        return str(self.manifest["teacher"])

    @property
    def rerank_depth(self) -> int:
        codes = self.manifest.get("codes")
        return int(codes["rerank"]) if codes else 0

    def __len__(self) -> int:
        return len(self.rows) - int(self.manifest.get("removed", 0))

    @classmethod
    def build(cls, docs: list[Doc], vectors: np.ndarray, params: HnswParams = HnswParams(),
              compression: Compression | None = None) -> DocIndex:
        """Index `vectors` (n, dim), row i belonging to `docs[i]`; with `compression`, also fit the codes."""
        if len(docs) == 0:
            raise S2RError("no documents to index")
        _check_new(docs, vectors, None)
        in_dim = vectors.shape[1]
        if compression is not None:
            if not (2 <= compression.dim <= in_dim and compression.dim % 2 == 0):
                raise S2RError(f"code dim must be even and between 2 and {in_dim}, got {compression.dim}")
            if len(docs) <= compression.dim:
                raise S2RError(f"the {compression.dim}-d PCA of the codes is fitted on the docs: it needs more than "
                               f"{compression.dim} of them, got {len(docs)}; build without compression")
            if compression.rerank < 1:
                raise S2RError(f"rerank depth must be at least 1, got {compression.rerank}")
        graph = _new_graph(in_dim)
        graph.init_index(max_elements=len(docs), ef_construction=params.ef_construction, M=params.M)
        _insert(graph, vectors, np.arange(len(docs)))
        graph.set_ef(params.ef_search)
        manifest = {
            "format": FORMAT,
            "format_version": 1 if compression is None else FORMAT_VERSION,
            "dim": int(in_dim),
            "metric": "cosine",
            "hnsw": asdict(params),
            "count": len(docs),
            "removed": 0,
            "teacher": TEACHER_ID,
            "projection": None if compression is None else
            {"kind": "pca", "file": CODES_FILE, "in_dim": in_dim, "out_dim": compression.dim,
             "applies_to": "codes only; index.hnsw holds the full teacher vectors"},
            "codes": None if compression is None else
            {"file": CODES_FILE, "bits": 4, "rerank": compression.rerank,
             "layout": "npz: mean (in_dim), components (out_dim, in_dim), lo and step (out_dim), packed uint8 "
                       "(count, out_dim / 2) with byte j = code j | code (j + out_dim / 2) << 4; "
                       "component i ~ lo_i + step_i * code_i"},
        }
        codes = Codes.fit(vectors, compression.dim) if compression is not None else None
        return cls(graph, list(docs), manifest, codes)

    @property
    def editable(self) -> bool:
        """Whether the vectors are in memory (hnswlib), so that docs can be added, removed and saved."""
        return not isinstance(self.graph, CompactGraph)

    def _check_query(self, query: np.ndarray) -> np.ndarray:
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        if query.shape[0] != self.dim:
            raise S2RError(f"query vector has dimension {query.shape[0]}, the index holds {self.dim}-d vectors")
        if not np.all(np.isfinite(query)):
            raise S2RError("query vector contains NaN or infinite values")
        return np.ascontiguousarray(query)

    def _matching(self, where: dict | None) -> set[int] | None:
        """Labels of live docs whose fields equal every item of `where` (None: no filter)."""
        if not where:
            return None
        cache_key = _filter_key(where)
        if cache_key not in self._filters:
            live = [(i, d) for i, d in enumerate(self.rows) if not _is_removed(d)]
            for key in where:
                if not any(key in d.meta for _, d in live):
                    raise S2RError(f"no document has a field {key!r} to filter on")
            self._filters[cache_key] = {i for i, d in live if all(d.meta.get(k) == v for k, v in where.items())}
        return self._filters[cache_key]

    def _mask(self, where: dict, allowed: set[int]) -> np.ndarray:
        """The CompactGraph node mask of a filter's matching labels, kept like the labels."""
        cache_key = _filter_key(where)
        if cache_key not in self._masks:
            self._masks[cache_key] = self.graph.mask(allowed)
        return self._masks[cache_key]

    def _exact(self, query: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(labels, scores) of the docs at `labels`, scored exactly, best first."""
        if isinstance(self.graph, CompactGraph):
            return self.graph.rescore(query, self.graph.nodes(labels))
        scores = np.asarray(self.graph.get_items(labels), dtype=np.float32) @ query
        order = np.argsort(-scores, kind="stable")
        return labels[order], scores[order]

    def _walk(self, query: np.ndarray, k: int, where: dict | None,
              allowed: set[int] | None) -> tuple[np.ndarray, np.ndarray] | None:
        """(labels, scores) best first from the graph, or None when the walk found fewer than `k` live matches."""
        ef = self.manifest["hnsw"]["ef_search"]
        if isinstance(self.graph, CompactGraph):
            mask = None if allowed is None else self._mask(where or {}, allowed)
            labels, scores = self.graph.search(query, max(k, self.rerank_depth), ef, mask)
            return (labels, scores) if len(labels) >= k else None
        self.graph.set_ef(max(k, ef))
        try:
            found, dists = self.graph.knn_query(query[None, :], k=k,
                                                filter=None if allowed is None else allowed.__contains__)
        except RuntimeError:
            return None
        return found[0].astype(np.int64), 1.0 - dists[0]

    def search(self, query: np.ndarray, k: int = 10, where: dict | None = None) -> list[Hit]:
        """Top-k live docs for one unit query vector of the index's dimension, best first; `where` keeps only
        docs whose fields equal the given values (e.g. {"domain": "settings"})."""
        query = self._check_query(query)
        if k < 1:
            raise S2RError(f"k must be at least 1, got {k}")
        allowed = self._matching(where)
        live = len(self) if allowed is None else len(allowed)
        if live == 0:
            return []
        k = min(k, live)
        found = self._walk(query, k, where, allowed) if allowed is None or len(allowed) >= EXACT_BELOW else None
        if found is None:  # a small filter, or a walk that met too few live matches: score the candidates exactly
            candidates = sorted(allowed) if allowed is not None else \
                [i for i, d in enumerate(self.rows) if not _is_removed(d)]
            found = self._exact(query, np.array(candidates, dtype=np.int64))
        labels, scores = found
        return [Hit(d.id, float(s), d.text, d.meta) for label, s in zip(labels[:k], scores[:k])
                for d in (self.rows[int(label)],)]

    def _need_editable(self, action: str) -> None:
        if not self.editable:
            raise S2RError(f"this index was loaded for search only (its vectors stay on disk); to {action} it, "
                           "load it with DocIndex.load(path, editable=True)")

    def add(self, docs: list[Doc], vectors: np.ndarray) -> None:
        """Add docs (teacher vectors, one row each) without a rebuild; a removed doc's label is reused first.
        An id already in the index is an error: remove it first to replace it."""
        self._need_editable("add docs to")
        _check_new(docs, vectors, self.dim)
        self.check_new_ids(docs)
        same = {d.id: self._slot[d.id] for d in docs if d.id in self._slot}  # a re-added id gets its old row
        free = iter([i for i, d in enumerate(self.rows) if _is_removed(d) and i not in same.values()])
        labels = []
        for doc in docs:
            label = same[doc.id] if doc.id in same else next(free, None)
            if label is None:
                label = len(self.rows)
                self.rows.append(doc)
            labels.append(label)
        if len(self.rows) > self.graph.get_max_elements():
            self.graph.resize_index(len(self.rows))
        # a deleted label is revived in place
        _insert(self.graph, vectors, np.array(labels))
        if self.codes is not None:  # the rotation stays as fitted at build; new docs are only encoded with it
            self.codes.resize(len(self.rows))
            self.codes.packed[labels] = self.codes.encode(vectors)
        for label, doc in zip(labels, docs):
            self._slot.pop(self.rows[label].id, None)
            self.rows[label] = doc
            self._slot[doc.id] = label
        self._recount()

    def check_new_ids(self, docs: list[Doc]) -> None:
        """Refuse ids that are already live in the index (checked before any embedding work)."""
        taken = [d.id for d in docs if d.id in self._slot and not _is_removed(self.rows[self._slot[d.id]])]
        if taken:
            raise S2RError(f"id {taken[0]!r} is already in the index ({len(taken)} such); "
                           "remove it first with `s2r-edge index remove` to replace it")

    def remove(self, ids: list[str]) -> None:
        """Delete docs by id without a rebuild: the graph marks them deleted, their rows become tombstones."""
        self._need_editable("remove docs from")
        unknown = [i for i in ids if i not in self._slot or _is_removed(self.rows[self._slot[i]])]
        if unknown:
            raise S2RError(f"no document with id {unknown[0]!r} in the index ({len(unknown)} unknown ids)")
        for doc_id in dict.fromkeys(ids):
            label = self._slot[doc_id]
            self.graph.mark_deleted(label)
            self.rows[label] = _tombstone(doc_id)
        self._recount()

    def _recount(self) -> None:
        self._filters.clear()
        self._masks.clear()
        self.manifest["count"] = len(self.rows)
        self.manifest["removed"] = sum(_is_removed(d) for d in self.rows)

    def save(self, out: str | Path) -> Path:
        """Write the index directory atomically: build it beside `out`, then rename it into place. Saving back
        to the directory it was loaded from fails if another process replaced that directory in between."""
        self._need_editable("save")
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        try:
            self.graph.save_index(str(tmp / "index.hnsw"))
            with open(tmp / "docs.jsonl", "w", encoding="utf-8") as f:
                for d in self.rows:
                    f.write(json.dumps({"id": d.id, "text": d.text, **d.meta}, ensure_ascii=False) + "\n")
            files = list(FILES)
            if self.codes is not None:
                self.codes.save(tmp / CODES_FILE)
                files.append(CODES_FILE)
            manifest = {**self.manifest, "files": {name: sha256(tmp / name) for name in files}}
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
            same = self.loaded_from is not None and self.loaded_from[0].resolve() == out.resolve()
            saved = sha256(tmp / "manifest.json")
            _swap_into_place(tmp, out, expect=self.loaded_from[1] if same else None)
            if same:
                self.loaded_from = (out, saved)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return out

    @classmethod
    def load(cls, path: str | Path, editable: bool = False) -> DocIndex:
        """Load and verify an index directory; any missing, edited or truncated file is an error naming it.
        A compact index is loaded for search (vectors left on disk) unless `editable`."""
        path = Path(path)
        manifest_path = path / "manifest.json"
        if not path.is_dir():
            raise S2RError(f"{path}: no such index directory; build one with `s2r-edge index build`")
        try:
            manifest = json.loads(manifest_path.read_text())
        except FileNotFoundError:
            raise S2RError(f"{manifest_path}: missing; this is not an s2r-edge index directory") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise S2RError(f"{manifest_path}: corrupt ({exc}); rebuild the index") from None
        if manifest.get("format") != FORMAT or manifest.get("format_version") not in (1, FORMAT_VERSION):
            raise S2RError(
                f"{manifest_path}: format {manifest.get('format')!r} v{manifest.get('format_version')} is not "
                f"{FORMAT!r} v1 or v{FORMAT_VERSION}; rebuild the index with this version of s2r-edge"
            )
        spec = manifest.get("codes")
        for name in (*FILES, *([spec["file"]] if spec else [])):
            file = path / name
            if not file.is_file():
                raise S2RError(f"{file}: missing from the index directory; rebuild the index")
            if sha256(file) != manifest["files"].get(name):
                raise S2RError(f"{file}: changed since the index was built (sha256 mismatch); rebuild the index")
        rows = read_docs(path / "docs.jsonl")
        if len(rows) != manifest["count"]:
            raise S2RError(f"{path}: manifest counts {manifest['count']} docs, docs.jsonl has {len(rows)}")
        dim = int(manifest["dim"])
        if spec and not editable:
            graph = CompactGraph.open(path / "index.hnsw", path / spec["file"], len(rows), dim,
                                      manifest["projection"]["out_dim"])
            index = cls(graph, rows, manifest)
        else:
            codes = Codes.load(path / spec["file"], len(rows), dim, manifest["projection"]["out_dim"]) if spec else None
            graph = _new_graph(dim)
            try:
                graph.load_index(str(path / "index.hnsw"), max_elements=len(rows))
            except RuntimeError as exc:
                raise S2RError(f"{path / 'index.hnsw'}: cannot be read by hnswlib ({exc}); rebuild the index") from None
            if graph.get_current_count() != len(rows):
                raise S2RError(f"{path / 'index.hnsw'}: holds {graph.get_current_count()} vectors for {len(rows)} docs")
            graph.set_ef(manifest["hnsw"]["ef_search"])
            index = cls(graph, rows, manifest, codes)
        index.loaded_from = (path, sha256(manifest_path))
        return index


def _check_new(docs: list[Doc], vectors: np.ndarray, dim: int | None) -> None:
    """Vectors (len(docs), dim) for docs with unique ids and no reserved field."""
    if vectors.ndim != 2 or vectors.shape[0] != len(docs):
        raise S2RError(f"expected {len(docs)} vectors, got an array of shape {vectors.shape}")
    if dim is not None and vectors.shape[1] != dim:
        raise S2RError(f"new vectors have dimension {vectors.shape[1]}, the index takes {dim}-d vectors")
    ids = [d.id for d in docs]
    if len(set(ids)) != len(ids):
        raise S2RError(f"duplicate id among the new docs: {next(i for i in ids if ids.count(i) > 1)!r}")
    reserved = [d.id for d in docs if REMOVED in d.meta]
    if reserved:
        raise S2RError(f"doc {reserved[0]!r} has the field {REMOVED!r}, which the index reserves for removed docs")


@contextmanager
def _dir_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock on `folder` (flock on the directory itself: no lock file is left behind)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _swap_into_place(tmp: Path, out: Path, expect: str | None = None) -> None:
    """Rename the finished directory `tmp` to `out`, replacing an older `out` only once `tmp` is complete.
    Swaps into one folder are serialised, so concurrent saves each land whole and the last one wins; with
    `expect` (the manifest sha256 seen at load) a save that would overwrite someone else's change is refused."""
    with _dir_lock(out.parent):
        if out.exists() and not (out / "manifest.json").is_file() and any(out.iterdir()):
            raise S2RError(f"{out}: exists and is not an s2r-edge index directory; choose another --out")
        if expect is not None and (not (out / "manifest.json").is_file() or sha256(out / "manifest.json") != expect):
            raise S2RError(f"{out}: changed by another process since it was loaded; run the command again")
        old = None
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
        os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def build_index(docs: list[Doc], out: str | Path, params: HnswParams = HnswParams(), progress: bool = True,
                compression: Compression | None = None) -> DocIndex:
    """Embed `docs` with the teacher and save an index directory at `out`."""
    from s2r_edge.teacher import embed_texts

    vectors = embed_texts([d.text for d in docs], progress=progress)
    index = DocIndex.build(docs, vectors, params, compression)
    index.save(out)
    return index


def ensure_index(docs: list[Doc], path: str | Path) -> Path:
    """An index of exactly `docs` at `path`: the one there when it loads and holds the same docs, else rebuilt."""
    path = Path(path)
    try:
        if DocIndex.load(path).docs == docs:
            return path
    except S2RError:
        pass
    print(f"indexing {len(docs)} docs into {path} (teacher embeddings)", file=sys.stderr)
    build_index(docs, path)
    return path


def add_docs(path: str | Path, docs: list[Doc], progress: bool = True) -> DocIndex:
    """Embed `docs` with the teacher and add them to the index directory at `path`, saved atomically."""
    from s2r_edge.teacher import embed_texts

    index = DocIndex.load(path, editable=True)
    index.check_new_ids(docs)
    index.add(docs, embed_texts([d.text for d in docs], progress=progress))
    index.save(path)
    return index


def remove_docs(path: str | Path, ids: list[str]) -> DocIndex:
    """Remove docs by id from the index directory at `path`, saved atomically."""
    index = DocIndex.load(path, editable=True)
    index.remove(ids)
    index.save(path)
    return index
