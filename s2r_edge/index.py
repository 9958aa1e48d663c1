"""The document index: an hnswlib HNSW graph of teacher vectors plus docs and a verified manifest.

Directory layout (DESIGN.md): `index.hnsw`, `docs.jsonl`, `manifest.json` holding the format version, dim,
metric, HNSW parameters, count, teacher id, projection and the sha256 of each file. A compact index adds
`projection.npy` (PCA of the doc vectors; the graph holds projected vectors, queries are projected at search
time) and `rerank.npy` (int8 copies of the full teacher vectors that rescore the graph's candidates). Label i of
the graph is row i of docs.jsonl; a removed doc keeps its row as a tombstone until an add reuses it. A save is
written to a temporary directory and renamed into place under a lock; a load checks every checksum first.
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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import hnswlib
import numpy as np

from s2r_edge.errors import S2RError
from s2r_edge.teacher import TEACHER_ID
from s2r_edge.texts import Doc, read_docs

FORMAT = "s2r-edge-index"
FORMAT_VERSION = 2  # v2 may carry projection.npy / rerank.npy; an index without them is written as v1
FILES = ("index.hnsw", "docs.jsonl")
PROJECTION_FILE = "projection.npy"
RERANK_FILE = "rerank.npy"
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
    """How doc vectors are kept: PCA to `dim` dimensions in the graph (None keeps the teacher's), and the top
    `rerank` graph candidates rescored with int8 copies of the full vectors (0: graph scores are final)."""

    dim: int | None = None
    rerank: int = 0


FULL = Compression()
# The `index build` default for large corpora, chosen with benchmarks/index_compare.py (RESULTS.md, index-compare).
COMPACT = Compression(dim=128, rerank=150)
COMPACT_HNSW = HnswParams(M=16, ef_construction=100, ef_search=300)
COMPACT_FROM = 2000  # below this many docs the index is small anyway and a PCA fit on so few is not worth it


def default_settings(n_docs: int) -> tuple[HnswParams, Compression]:
    """The `index build` defaults for a corpus of `n_docs`: compact from COMPACT_FROM docs, else full vectors."""
    return (COMPACT_HNSW, COMPACT) if n_docs >= COMPACT_FROM else (HnswParams(), FULL)


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


def fit_pca(vectors: np.ndarray, dim: int) -> np.ndarray:
    """PCA of the doc vectors as one float32 array (dim + 1, in_dim): the mean, then the top `dim` components."""
    mean = vectors.mean(axis=0)
    _, _, components = np.linalg.svd(vectors - mean, full_matrices=False)
    return np.vstack([mean, components[:dim]]).astype(np.float32)


def project(projection: np.ndarray | None, vectors: np.ndarray) -> np.ndarray:
    """Doc vectors as the graph holds them: centred and projected (unchanged without a projection)."""
    if projection is None:
        return np.ascontiguousarray(vectors, dtype=np.float32)
    return np.ascontiguousarray((vectors - projection[0]) @ projection[1:].T, dtype=np.float32)


def quantize_int8(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled by its own largest magnitude to int8; the direction is what rescoring needs."""
    scale = np.abs(vectors).max(axis=1, keepdims=True)
    return np.round(vectors / np.where(scale > 0, scale, 1.0) * 127).astype(np.int8)


def _tombstone(doc_id: str) -> Doc:
    return Doc(doc_id, "(removed)", {REMOVED: True})


def _is_removed(doc: Doc) -> bool:
    return bool(doc.meta.get(REMOVED))


class DocIndex:
    """Docs and their vectors in an HNSW graph (cosine via inner product on unit vectors, optionally compressed).

    `rows[i]` is the doc of graph label i (a tombstone for a removed doc)."""

    def __init__(self, graph: hnswlib.Index, rows: list[Doc], manifest: dict,
                 projection: np.ndarray | None = None, codes: np.ndarray | None = None) -> None:
        self.graph = graph
        self.rows = rows
        self.manifest = manifest
        self.projection = projection
        self.codes = codes
        self.loaded_from: tuple[Path, str] | None = None  # (directory, manifest sha256) when loaded from disk
        self._slot = {d.id: i for i, d in enumerate(rows)}
        self._filters: dict[str, set[int]] = {}  # matching labels per filter, kept until the docs change

    @property
    def docs(self) -> list[Doc]:
        """The live documents, in label order."""
        return [d for d in self.rows if not _is_removed(d)]

    @property
    def dim(self) -> int:
        """Dimension of the query vectors this index takes (the teacher's, before any projection)."""
        projection = self.manifest.get("projection")
        return int(projection["in_dim"] if projection else self.manifest["dim"])

    @property
    def teacher(self) -> str:
        return str(self.manifest["teacher"])

    @property
    def rerank_depth(self) -> int:
        rerank = self.manifest.get("rerank")
        return int(rerank["depth"]) if rerank else 0

    def __len__(self) -> int:
        return len(self.rows) - int(self.manifest.get("removed", 0))

    @classmethod
    def build(cls, docs: list[Doc], vectors: np.ndarray, params: HnswParams = HnswParams(),
              compression: Compression = FULL) -> DocIndex:
        """Index `vectors` (n, dim), row i belonging to `docs[i]`."""
        if len(docs) == 0:
            raise S2RError("no documents to index")
        _check_new(docs, vectors, None)
        in_dim = vectors.shape[1]
        dim = compression.dim
        if dim is not None and not 1 <= dim < in_dim:
            raise S2RError(f"projection dim must be between 1 and {in_dim - 1}, got {dim}")
        if dim is not None and len(docs) <= dim:
            raise S2RError(f"a {dim}-d projection is fitted on the docs: it needs more than {dim} of them, got {len(docs)}")
        if compression.rerank < 0:
            raise S2RError(f"rerank depth must be 0 (off) or positive, got {compression.rerank}")
        projection = fit_pca(vectors, dim) if dim is not None else None
        graph_vectors = project(projection, vectors)
        graph = hnswlib.Index(space="ip", dim=graph_vectors.shape[1])
        graph.init_index(max_elements=len(docs), ef_construction=params.ef_construction, M=params.M)
        graph.add_items(graph_vectors, np.arange(len(docs)))
        graph.set_ef(params.ef_search)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION if dim is not None or compression.rerank else 1,
            "dim": int(graph_vectors.shape[1]),
            "metric": "cosine",
            "hnsw": asdict(params),
            "count": len(docs),
            "removed": 0,
            "teacher": TEACHER_ID,
            "projection": None if dim is None else
            {"kind": "pca", "file": PROJECTION_FILE, "in_dim": in_dim, "out_dim": dim,
             "layout": "float32 (out_dim + 1, in_dim): mean row, then components; graph vector = C (x - mean)"},
            "rerank": None if not compression.rerank else
            {"file": RERANK_FILE, "depth": compression.rerank,
             "layout": "int8 (count, in_dim), one row per label: x scaled by 127 / max|x|; score = cos(q, row)"},
        }
        codes = quantize_int8(vectors) if compression.rerank else None
        return cls(graph, list(docs), manifest, projection, codes)

    def _check_query(self, query: np.ndarray) -> np.ndarray:
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        if query.shape[0] != self.dim:
            raise S2RError(f"query vector has dimension {query.shape[0]}, the index holds {self.dim}-d vectors")
        if not np.all(np.isfinite(query)):
            raise S2RError("query vector contains NaN or infinite values")
        return query

    def _matching(self, where: dict | None) -> set[int] | None:
        """Labels of live docs whose fields equal every item of `where` (None: no filter)."""
        if not where:
            return None
        cache_key = json.dumps(where, sort_keys=True)
        if cache_key not in self._filters:
            live = [(i, d) for i, d in enumerate(self.rows) if not _is_removed(d)]
            for key in where:
                if not any(key in d.meta for _, d in live):
                    raise S2RError(f"no document has a field {key!r} to filter on")
            self._filters[cache_key] = {i for i, d in live if all(d.meta.get(k) == v for k, v in where.items())}
        return self._filters[cache_key]

    def _scores(self, query: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Cosine of `query` to the docs at `labels`: from the int8 copies when kept, else from the graph's vectors."""
        if self.codes is not None:
            rows = self.codes[labels].astype(np.float32)
            return rows @ query / np.linalg.norm(rows, axis=1)
        graph_vectors = np.asarray(self.graph.get_items(labels), dtype=np.float32)
        return graph_vectors @ self._graph_query(query) + self._offset(query)

    def _graph_query(self, query: np.ndarray) -> np.ndarray:
        return query if self.projection is None else self.projection[1:] @ query

    def _offset(self, query: np.ndarray) -> float:
        """What centring took out of the graph's inner products: q . mean (0 without a projection)."""
        return 0.0 if self.projection is None else float(query @ self.projection[0])

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
        depth = min(max(k, self.rerank_depth), live)
        labels = scores = None
        if allowed is None or len(allowed) >= EXACT_BELOW:
            self.graph.set_ef(max(depth, self.manifest["hnsw"]["ef_search"]))
            try:
                found, dists = self.graph.knn_query(
                    self._graph_query(query)[None, :], k=depth, filter=None if allowed is None else allowed.__contains__
                )
                labels = found[0].astype(np.int64)
                if self.codes is None:
                    scores = 1.0 - dists[0] + self._offset(query)
            except RuntimeError:  # the graph walk found fewer than `depth` live matches: search them exactly
                labels = None
        if labels is None:
            labels = np.array(sorted(allowed) if allowed is not None else
                              [i for i, d in enumerate(self.rows) if not _is_removed(d)], dtype=np.int64)
        if scores is None:
            scores = self._scores(query, labels)
        best = np.argsort(-scores, kind="stable")[:k]
        return [Hit(d.id, float(scores[j]), d.text, d.meta) for j in best for d in (self.rows[int(labels[j])],)]

    def add(self, docs: list[Doc], vectors: np.ndarray) -> None:
        """Add docs (teacher vectors, one row each) without a rebuild; a removed doc's label is reused first.
        An id already in the index is an error: remove it first to replace it."""
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
        self.graph.add_items(project(self.projection, vectors), np.array(labels))  # a deleted label is revived
        if self.codes is not None:
            grown = np.zeros((len(self.rows) - len(self.codes), self.codes.shape[1]), np.int8)
            self.codes = np.vstack([self.codes, grown])
            self.codes[labels] = quantize_int8(vectors)
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
        unknown = [i for i in ids if i not in self._slot or _is_removed(self.rows[self._slot[i]])]
        if unknown:
            raise S2RError(f"no document with id {unknown[0]!r} in the index ({len(unknown)} unknown ids)")
        for doc_id in dict.fromkeys(ids):
            label = self._slot[doc_id]
            self.graph.mark_deleted(label)
            self.rows[label] = _tombstone(doc_id)
            if self.codes is not None:
                self.codes[label] = 0
        self._recount()

    def _recount(self) -> None:
        self._filters.clear()
        self.manifest["count"] = len(self.rows)
        self.manifest["removed"] = sum(_is_removed(d) for d in self.rows)

    def save(self, out: str | Path) -> Path:
        """Write the index directory atomically: build it beside `out`, then rename it into place. Saving back
        to the directory it was loaded from fails if another process replaced that directory in between."""
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        try:
            self.graph.save_index(str(tmp / "index.hnsw"))
            with open(tmp / "docs.jsonl", "w", encoding="utf-8") as f:
                for d in self.rows:
                    f.write(json.dumps({"id": d.id, "text": d.text, **d.meta}, ensure_ascii=False) + "\n")
            files = list(FILES)
            if self.projection is not None:
                np.save(tmp / PROJECTION_FILE, self.projection)
                files.append(PROJECTION_FILE)
            if self.codes is not None:
                np.save(tmp / RERANK_FILE, self.codes)
                files.append(RERANK_FILE)
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
    def load(cls, path: str | Path) -> DocIndex:
        """Load and verify an index directory; any missing, edited or truncated file is an error naming it."""
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
        extra = [x["file"] for x in (manifest.get("projection"), manifest.get("rerank")) if x]
        for name in (*FILES, *extra):
            file = path / name
            if not file.is_file():
                raise S2RError(f"{file}: missing from the index directory; rebuild the index")
            if sha256(file) != manifest["files"].get(name):
                raise S2RError(f"{file}: changed since the index was built (sha256 mismatch); rebuild the index")
        rows = read_docs(path / "docs.jsonl")
        if len(rows) != manifest["count"]:
            raise S2RError(f"{path}: manifest counts {manifest['count']} docs, docs.jsonl has {len(rows)}")
        graph = hnswlib.Index(space="ip", dim=int(manifest["dim"]))
        try:
            graph.load_index(str(path / "index.hnsw"), max_elements=len(rows))
        except RuntimeError as exc:
            raise S2RError(f"{path / 'index.hnsw'}: cannot be read by hnswlib ({exc}); rebuild the index") from None
        if graph.get_current_count() != len(rows):
            raise S2RError(f"{path / 'index.hnsw'}: holds {graph.get_current_count()} vectors for {len(rows)} docs")
        graph.set_ef(manifest["hnsw"]["ef_search"])
        spec = manifest.get("projection")
        projection = _load_array(path, spec, np.float32, (spec["out_dim"] + 1, spec["in_dim"])) if spec else None
        spec = manifest.get("rerank")
        index = cls(graph, rows, manifest, projection)
        index.codes = _load_array(path, spec, np.int8, (len(rows), index.dim)) if spec else None
        index.loaded_from = (path, sha256(manifest_path))
        return index


def _load_array(path: Path, spec: dict, dtype: type, shape: tuple[int, int]) -> np.ndarray:
    file = path / spec["file"]
    try:
        array = np.load(file, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise S2RError(f"{file}: cannot be read ({exc}); rebuild the index") from None
    if array.dtype != dtype or array.shape != shape:
        raise S2RError(f"{file}: holds {array.dtype} {array.shape}, expected {np.dtype(dtype)} {shape}; rebuild the index")
    return array


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
                compression: Compression = FULL) -> DocIndex:
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

    index = DocIndex.load(path)
    index.check_new_ids(docs)
    index.add(docs, embed_texts([d.text for d in docs], progress=progress))
    index.save(path)
    return index


def remove_docs(path: str | Path, ids: list[str]) -> DocIndex:
    """Remove docs by id from the index directory at `path`, saved atomically."""
    index = DocIndex.load(path)
    index.remove(ids)
    index.save(path)
    return index
