"""Compact search: the hnswlib graph walked in RAM by 4-bit codes, the full vectors left on disk.

A compact index keeps `codes.npz` beside `index.hnsw`: a PCA rotation of the doc vectors (the top `dim`
components) and each doc's rotated vector at 4 bits per component. `CompactGraph` reads only the links and labels
out of index.hnsw, walks the graph scoring nodes by their codes (s2r_edge/_walk.c), then rescores the best few
with the exact float32 vectors, read from index.hnsw with pread. RAM per doc: the level-0 links, a label, the codes.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import struct
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from s2r_edge.errors import S2RError

try:
    from s2r_edge import _walk  # the compiled graph walker (_walk.c), built by the install
except ImportError:  # a training host (DESIGN.md § GPU host) has none and searches nothing; `CompactGraph` says so
    _walk = None

CODES_FILE = "codes.npz"
BITS = 4
LEVELS = (1 << BITS) - 1
DELETED = 0x01  # hnswlib's delete mark, in byte 2 of a node's level-0 header
CLIP = 3.0  # each rotated component is quantised over +-3 standard deviations; the few beyond are clipped
HEADER = struct.Struct("<QQQQQQiIQQQdQ")  # hnswlib's saveIndex header, in order (see hnswalg.h)


@dataclass
class Codes:
    """PCA rotation and 4-bit codes of doc vectors: code_i = round((C (x - mean))_i / step_i - lo_i / step_i)."""

    mean: np.ndarray  # (in_dim,) float32
    components: np.ndarray  # (dim, in_dim) float32, rows = principal directions, largest variance first
    lo: np.ndarray  # (dim,) float32, the value of code 0 per component
    step: np.ndarray  # (dim,) float32
    packed: np.ndarray  # (count, dim // 2) uint8: byte j = code j | code (j + dim // 2) << 4; row i = label i

    @classmethod
    def fit(cls, vectors: np.ndarray, dim: int) -> Codes:
        """Fit the rotation and the per-component ranges on `vectors`, and encode them."""
        mean = vectors.mean(axis=0)
        _, _, vt = np.linalg.svd(vectors - mean, full_matrices=False)
        components = vt[:dim].astype(np.float32)
        spread = ((vectors - mean) @ components.T).std(axis=0)
        spread = np.where(spread > 0, spread, 1e-6).astype(np.float32)
        codes = cls(mean.astype(np.float32), components, -CLIP * spread, 2 * CLIP * spread / LEVELS,
                    np.zeros((0, dim // 2), np.uint8))
        codes.packed = codes.encode(vectors)
        return codes

    @property
    def dim(self) -> int:
        return int(self.components.shape[0])

    def encode(self, vectors: np.ndarray) -> np.ndarray:
        """4-bit codes of `vectors` (n, in_dim) with this rotation, packed (n, dim // 2)."""
        rotated = (vectors - self.mean) @ self.components.T
        q = np.clip(np.rint((rotated - self.lo) / self.step), 0, LEVELS).astype(np.uint8)
        half = self.dim // 2
        return q[:, :half] | (q[:, half:] << 4)

    def weights(self, query: np.ndarray) -> np.ndarray:
        """Per-component weights whose dot product with a doc's codes ranks docs as q . x does (up to a constant)."""
        return np.ascontiguousarray((self.components @ query) * self.step, dtype=np.float32)

    def resize(self, count: int) -> None:
        """Grow or keep the code rows to `count` labels (new rows are zero until encoded)."""
        if count > len(self.packed):
            self.packed = np.vstack([self.packed, np.zeros((count - len(self.packed), self.packed.shape[1]), np.uint8)])

    def save(self, path: Path) -> None:
        with open(path, "wb") as f:
            np.savez(f, mean=self.mean, components=self.components, lo=self.lo, step=self.step, packed=self.packed)

    @classmethod
    def load(cls, path: Path, count: int, in_dim: int, dim: int) -> Codes:
        """Read codes.npz, checking every array's type and shape against the manifest."""
        expected = {"mean": (np.float32, (in_dim,)), "components": (np.float32, (dim, in_dim)),
                    "lo": (np.float32, (dim,)), "step": (np.float32, (dim,)), "packed": (np.uint8, (count, dim // 2))}
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {name: z[name] for name in expected}
        except (ValueError, OSError, KeyError) as exc:
            raise S2RError(f"{path}: cannot be read ({exc}); rebuild the index") from None
        for name, (dtype, shape) in expected.items():
            if arrays[name].dtype != dtype or arrays[name].shape != shape:
                raise S2RError(f"{path}: {name} is {arrays[name].dtype} {arrays[name].shape}, expected "
                               f"{np.dtype(dtype)} {shape}; rebuild the index")
        return cls(**arrays)


class CompactGraph:
    """Read-only search over an index.hnsw whose vectors stay on disk; RAM holds links, labels and codes."""

    def __init__(self, index_file: Path, codes: Codes, count: int, dim: int) -> None:
        """`codes` rows are by label; the graph keeps its own copy ordered by node (the caller may drop theirs)."""
        if _walk is None:
            raise S2RError("the compiled graph walker (s2r_edge._walk) is not built here: install s2r-edge with "
                           "`make setup` or `pip install -e .` to search a compact index")
        self.file = index_file
        layout = _in_bfs_order(_read_layout(index_file, count, dim))
        self.entry, self.max_level, self.max_m = layout["entry"], layout["max_level"], layout["max_m"]
        self.offsets, self.flags = layout["offsets"], layout["flags"]
        self.neighbours = _huge_pages(layout["neighbours"])
        self.max_degree = int(np.diff(self.offsets).max())
        self.labels, self.file_rows = layout["labels"], layout["file_rows"]  # per node: its label, its row in the file
        self.upper_nodes, self.upper_start, self.upper_links = layout["upper"]
        self.vectors_at, self.record = layout["vectors_at"], layout["record"]
        self.codes = replace(codes, packed=_huge_pages(codes.packed[self.labels]))
        self._node_of_label: np.ndarray | None = None
        self.fd = os.open(index_file, os.O_RDONLY)

    @classmethod
    def open(cls, index_file: Path, codes_file: Path, count: int, dim: int, code_dim: int) -> CompactGraph:
        """Load for search; the load's temporary buffers are handed back to the OS before returning."""
        graph = cls(index_file, Codes.load(codes_file, count, dim, code_dim), count, dim)
        _release_free_memory()
        return graph

    def __del__(self) -> None:
        fd = getattr(self, "fd", None)
        if fd is not None:
            os.close(fd)

    def nodes(self, labels: np.ndarray) -> np.ndarray:
        """Graph node numbers of `labels`."""
        if self._node_of_label is None:
            self._node_of_label = np.empty(len(self.labels), np.uint32)
            self._node_of_label[self.labels] = np.arange(len(self.labels), dtype=np.uint32)
        return self._node_of_label[labels]

    def mask(self, labels: set[int]) -> np.ndarray:
        """A per-node byte mask of the docs at `labels`, for `search(mask=...)`."""
        keep = np.zeros(len(self.labels), np.uint8)
        keep[self.nodes(np.fromiter(labels, np.int64, len(labels)))] = 1
        return keep

    def rescore(self, query: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(labels, exact scores) of graph `nodes`, best first, from the float32 vectors on disk."""
        nodes = np.ascontiguousarray(nodes, dtype=np.uint32)
        scores = np.empty(len(nodes), np.float32)
        try:
            _walk.rescore(self.fd, self.vectors_at, self.record, query, self.file_rows[nodes], scores)
        except OSError as exc:  # verified at load, so the file was cut or replaced in place since
            raise S2RError(f"{self.file}: cannot read the doc vectors ({exc}); load the index again") from None
        order = np.argsort(-scores, kind="stable")
        return self.labels[nodes[order]].astype(np.int64), scores[order]

    def search(self, query: np.ndarray, depth: int, ef: int,
               mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(labels, exact scores), best first: the graph walk keeps the best `max(ef, depth)` nodes by code score,
        the best `depth` of them are rescored exactly. `mask` leaves out the nodes it marks 0."""
        ef = max(ef, depth)
        ids, scores = np.empty(ef, np.uint32), np.empty(ef, np.float32)
        got = _walk.walk(self.offsets, self.neighbours, self.flags, self.max_degree, self.upper_nodes,
                         self.upper_start, self.upper_links, self.max_m, self.codes.packed,
                         self.codes.weights(query), self.entry, self.max_level, ef, mask, ids, scores)
        return self.rescore(query, ids[:min(got, depth)])


def _rows(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Indices of the runs starts[i] .. starts[i] + counts[i], one after another."""
    counts = counts.astype(np.int64)
    ends = np.cumsum(counts)
    return np.repeat(starts.astype(np.int64) - (ends - counts), counts) + np.arange(ends[-1] if len(ends) else 0)


def _in_bfs_order(layout: dict) -> dict:
    """The layout with nodes renumbered breadth first from the entry point: a node's neighbours then mostly sit
    near it in memory, which makes the walk's random reads hit the cache more often (about 1.25x faster)."""
    offsets, neighbours, n = layout["offsets"], layout["neighbours"], len(layout["flags"])
    order = np.empty(n, np.uint32)
    _walk.bfs(offsets, neighbours, layout["entry"], order)
    new_id = np.empty(n, np.uint32)
    new_id[order] = np.arange(n, dtype=np.uint32)
    counts = np.diff(offsets)[order]
    new_offsets = np.zeros(n + 1, np.uint32)
    np.cumsum(counts, out=new_offsets[1:])
    nodes, start, links = layout["upper"]
    max_m = layout["max_m"]
    blocks = links.reshape(-1, 1 + max_m).copy()
    used = np.arange(max_m) < np.minimum(blocks[:, :1] & 0xFFFF, max_m)
    blocks[:, 1:] = np.where(used, new_id[np.minimum(blocks[:, 1:], n - 1)], 0)
    renumbered = new_id[nodes]
    by_id = np.argsort(renumbered)
    levels = np.diff(start)[by_id]
    upper = (renumbered[by_id], np.concatenate([[0], np.cumsum(levels)]).astype(np.uint32),
             np.ascontiguousarray(blocks[_rows(start[:-1][by_id], levels)]).reshape(-1))
    return {**layout, "entry": int(new_id[layout["entry"]]), "offsets": new_offsets,
            "neighbours": new_id[neighbours[_rows(offsets[:-1][order], counts)]], "flags": layout["flags"][order],
            "labels": layout["labels"][order], "upper": upper, "file_rows": order}


def _huge_pages(array: np.ndarray) -> np.ndarray:
    """A copy of `array` in 2 MB-aligned memory advised for transparent huge pages, where the OS offers them: the
    walk reads it at random, and with 4 KB pages nearly every read also misses the TLB (about 1.4x slower)."""
    huge = 1 << 21
    if not hasattr(mmap, "MADV_HUGEPAGE") or array.nbytes < huge:
        return np.ascontiguousarray(array)
    region = mmap.mmap(-1, (array.nbytes // huge + 2) * huge, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    raw = np.frombuffer(region, np.uint8)  # keeps `region` alive; pages before `start` are never touched
    start = -raw.ctypes.data % huge
    region.madvise(mmap.MADV_HUGEPAGE, start, array.nbytes // huge * huge)  # whole huge pages only: no waste
    out = raw[start:start + array.nbytes].view(array.dtype).reshape(array.shape)
    out[...] = array
    return out


def _release_free_memory() -> None:
    """glibc keeps freed heap pages (here: the load's read buffers) in the process; malloc_trim returns them."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def _read_layout(path: Path, count: int, dim: int) -> dict:
    """Links, labels and the vectors' offsets from an hnswlib index file, without loading the vectors. Level-0
    links become compressed rows (`offsets`, `neighbours`): hnswlib reserves 2M slots per node, about 60% used."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(HEADER.size)
        if len(head) < HEADER.size:
            raise S2RError(f"{path}: truncated (no hnswlib header); rebuild the index")
        (_, _, n, record, label_at, data_at, max_level, entry, max_m, max_m0, _, _, _) = HEADER.unpack(head)
        if (n != count or data_at != 4 + 4 * max_m0 or label_at != data_at + 4 * dim or record != label_at + 8
                or size < HEADER.size + n * record + 4 * n or not 0 <= max_level < 64 or entry >= max(n, 1)):
            raise S2RError(f"{path}: not an hnswlib index of {count} {dim}-d vectors; rebuild the index")
        counts, flags, labels, lists = np.empty(n, np.uint32), np.empty(n, np.uint8), np.empty(n, np.uint32), []
        buffer = np.empty((min(n, 4096), record), np.uint8)  # read a few MB at a time, into one reused buffer
        for start in range(0, n, len(buffer)):
            block = buffer[:min(len(buffer), n - start)]
            f.readinto(memoryview(block).cast("B"))
            links = block[:, :data_at].view(np.uint32)
            rows = slice(start, start + len(block))
            counts[rows] = np.minimum(links[:, 0] & 0xFFFF, max_m0)
            flags[rows] = (links[:, 0] >> 16) & DELETED
            labels[rows] = block[:, label_at:label_at + 8].view(np.uint64)[:, 0]
            lists.append(links[:, 1:][np.arange(max_m0) < counts[rows, None]])
        tail = f.read()
    offsets = np.zeros(n + 1, np.uint32)
    np.cumsum(counts, out=offsets[1:])
    neighbours = np.concatenate(lists) if lists else np.zeros(0, np.uint32)
    block = 4 * (1 + max_m)
    nodes, levels, chunks, at = [], [0], [], 0
    for node in range(n):
        if at + 4 > len(tail):
            raise S2RError(f"{path}: truncated in the upper levels; rebuild the index")
        (nbytes,) = struct.unpack_from("<I", tail, at)
        at += 4
        if nbytes:
            if nbytes % block or at + nbytes > len(tail):
                raise S2RError(f"{path}: corrupt upper-level links at node {node}; rebuild the index")
            nodes.append(node)
            levels.append(levels[-1] + nbytes // block)
            chunks.append(np.frombuffer(tail, np.uint32, nbytes // 4, at))
            at += nbytes
    upper = (np.array(nodes, np.uint32), np.array(levels, np.uint32),
             np.concatenate(chunks) if chunks else np.zeros(1, np.uint32))
    return {"entry": entry, "max_level": max_level, "max_m": max_m, "offsets": offsets, "neighbours": neighbours,
            "flags": flags, "labels": labels, "upper": upper, "vectors_at": HEADER.size + data_at, "record": record}
