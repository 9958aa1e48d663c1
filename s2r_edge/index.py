"""The document index: an hnswlib HNSW graph of teacher vectors plus docs and a verified manifest.

Directory layout (DESIGN.md): `index.hnsw`, `docs.jsonl`, `manifest.json` holding the format version, dim,
metric, HNSW parameters, count, teacher id, projection and the sha256 of each file. A build is written to a
temporary directory and renamed into place; a load checks every checksum before trusting the files.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import hnswlib
import numpy as np

from s2r_edge.errors import S2RError
from s2r_edge.teacher import TEACHER_ID
from s2r_edge.texts import Doc, read_docs

FORMAT = "s2r-edge-index"
FORMAT_VERSION = 1
FILES = ("index.hnsw", "docs.jsonl")


@dataclass(frozen=True)
class HnswParams:
    """hnswlib graph parameters: links per node, build-time and query-time beam widths."""

    M: int = 16
    ef_construction: int = 200
    ef_search: int = 64


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


class DocIndex:
    """Docs and their vectors in an HNSW graph (cosine via inner product on unit vectors)."""

    def __init__(self, graph: hnswlib.Index, docs: list[Doc], manifest: dict) -> None:
        self.graph = graph
        self.docs = docs
        self.manifest = manifest

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    @property
    def teacher(self) -> str:
        return str(self.manifest["teacher"])

    def __len__(self) -> int:
        return len(self.docs)

    @classmethod
    def build(cls, docs: list[Doc], vectors: np.ndarray, params: HnswParams = HnswParams()) -> DocIndex:
        """Index `vectors` (n, dim), row i belonging to `docs[i]`."""
        if len(docs) == 0:
            raise S2RError("no documents to index")
        if vectors.ndim != 2 or vectors.shape[0] != len(docs):
            raise S2RError(f"expected {len(docs)} vectors, got an array of shape {vectors.shape}")
        graph = hnswlib.Index(space="ip", dim=vectors.shape[1])
        graph.init_index(max_elements=len(docs), ef_construction=params.ef_construction, M=params.M)
        graph.add_items(np.ascontiguousarray(vectors, dtype=np.float32), np.arange(len(docs)))
        graph.set_ef(params.ef_search)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "dim": int(vectors.shape[1]),
            "metric": "cosine",
            "hnsw": asdict(params),
            "count": len(docs),
            "teacher": TEACHER_ID,
            "projection": None,
        }
        return cls(graph, docs, manifest)

    def search(self, query: np.ndarray, k: int = 10) -> list[Hit]:
        """Top-k docs for one unit query vector of the index's dimension, best first."""
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        if query.shape[0] != self.dim:
            raise S2RError(f"query vector has dimension {query.shape[0]}, the index holds {self.dim}-d vectors")
        if not np.all(np.isfinite(query)):
            raise S2RError("query vector contains NaN or infinite values")
        if k < 1:
            raise S2RError(f"k must be at least 1, got {k}")
        k = min(k, len(self.docs))
        self.graph.set_ef(max(k, self.manifest["hnsw"]["ef_search"]))
        labels, dists = self.graph.knn_query(query[None, :], k=k)
        return [
            Hit(d.id, float(1.0 - dist), d.text, d.meta)
            for label, dist in zip(labels[0], dists[0])
            for d in (self.docs[int(label)],)
        ]

    def save(self, out: str | Path) -> Path:
        """Write the index directory atomically: build it beside `out`, then rename it into place."""
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        try:
            self.graph.save_index(str(tmp / "index.hnsw"))
            with open(tmp / "docs.jsonl", "w", encoding="utf-8") as f:
                for d in self.docs:
                    f.write(json.dumps({"id": d.id, "text": d.text, **d.meta}, ensure_ascii=False) + "\n")
            manifest = {**self.manifest, "files": {name: sha256(tmp / name) for name in FILES}}
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
            _swap_into_place(tmp, out)
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
        if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
            raise S2RError(
                f"{manifest_path}: format {manifest.get('format')!r} v{manifest.get('format_version')} is not "
                f"{FORMAT!r} v{FORMAT_VERSION}; rebuild the index with this version of s2r-edge"
            )
        for name in FILES:
            file = path / name
            if not file.is_file():
                raise S2RError(f"{file}: missing from the index directory; rebuild the index")
            if sha256(file) != manifest["files"].get(name):
                raise S2RError(f"{file}: changed since the index was built (sha256 mismatch); rebuild the index")
        docs = read_docs(path / "docs.jsonl")
        if len(docs) != manifest["count"]:
            raise S2RError(f"{path}: manifest counts {manifest['count']} docs, docs.jsonl has {len(docs)}")
        graph = hnswlib.Index(space="ip", dim=int(manifest["dim"]))
        try:
            graph.load_index(str(path / "index.hnsw"), max_elements=len(docs))
        except RuntimeError as exc:
            raise S2RError(f"{path / 'index.hnsw'}: cannot be read by hnswlib ({exc}); rebuild the index") from None
        if graph.get_current_count() != len(docs):
            raise S2RError(f"{path / 'index.hnsw'}: holds {graph.get_current_count()} vectors for {len(docs)} docs")
        graph.set_ef(manifest["hnsw"]["ef_search"])
        return cls(graph, docs, manifest)


def _swap_into_place(tmp: Path, out: Path) -> None:
    """Rename the finished directory `tmp` to `out`, replacing an older `out` only once `tmp` is complete."""
    if out.exists() and not (out / "manifest.json").is_file() and any(out.iterdir()):
        raise S2RError(f"{out}: exists and is not an s2r-edge index directory; choose another --out")
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def build_index(docs: list[Doc], out: str | Path, params: HnswParams = HnswParams(), progress: bool = True) -> DocIndex:
    """Embed `docs` with the teacher and save an index directory at `out`."""
    from s2r_edge.teacher import embed_texts

    vectors = embed_texts([d.text for d in docs], progress=progress)
    index = DocIndex.build(docs, vectors, params)
    index.save(out)
    return index
