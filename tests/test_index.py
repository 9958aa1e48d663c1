"""The index directory: search agrees with exact cosine, files are verified on load, saves are atomic."""

import json

import numpy as np
import pytest

from s2r_edge.errors import S2RError
from s2r_edge.index import Compression, DocIndex, HnswParams
from s2r_edge.texts import Doc


def random_index(n: int = 500, dim: int = 384) -> tuple[DocIndex, np.ndarray]:
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((n, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    docs = [Doc(f"d{i}", f"doc {i}", {"domain": "x"}) for i in range(n)]
    return DocIndex.build(docs, vecs), vecs


def test_recall_against_exact_search_and_cosine_scores():
    index, vecs = random_index()
    rng = np.random.default_rng(1)
    recall = []
    for _ in range(50):
        q = rng.standard_normal(384).astype(np.float32)
        q /= np.linalg.norm(q)
        exact = np.argsort(-vecs @ q)[:10]
        hits = index.search(q, k=10)
        recall.append(len({f"d{i}" for i in exact} & {h.id for h in hits}) / 10)
        assert hits[0].score == pytest.approx(float(vecs[int(hits[0].id[1:])] @ q), abs=1e-5)
    assert np.mean(recall) > 0.95


def test_round_trip_keeps_docs_metadata_and_manifest(tmp_path):
    index, vecs = random_index(50)
    index.save(tmp_path / "idx")
    loaded = DocIndex.load(tmp_path / "idx")
    assert loaded.docs == index.docs
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert manifest["dim"] == 384 and manifest["count"] == 50 and manifest["teacher"] == "all-MiniLM-L6-v2"
    assert set(manifest["files"]) == {"index.hnsw", "docs.jsonl"}
    assert [h.id for h in loaded.search(vecs[7], 3)][0] == "d7"
    assert loaded.search(vecs[7], 3)[0].to_json()["domain"] == "x"


def test_rebuild_replaces_the_directory_whole(tmp_path):
    random_index(50)[0].save(tmp_path / "idx")
    random_index(80)[0].save(tmp_path / "idx")
    assert len(DocIndex.load(tmp_path / "idx")) == 80
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]  # no temporary leftovers


def test_the_same_docs_make_the_same_graph(tmp_path):
    """Builds and adds are reproducible: hnswlib's threaded inserts would link the graph differently each time."""
    for name in ("a", "b"):
        index, vecs = random_index(2000)
        index.remove([f"d{i}" for i in range(0, 2000, 3)])
        index.add([Doc(f"d{i}", f"doc {i} again") for i in range(0, 2000, 3)], vecs[::3][::-1])
        index.save(tmp_path / name)
    assert (tmp_path / "a" / "index.hnsw").read_bytes() == (tmp_path / "b" / "index.hnsw").read_bytes()


@pytest.mark.parametrize("name", ["index.hnsw", "docs.jsonl"])
def test_a_file_changed_after_the_build_is_named(tmp_path, name):
    random_index(50)[0].save(tmp_path / "idx")
    path = tmp_path / "idx" / name
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(S2RError, match=f"{name}: changed since the index was built"):
        DocIndex.load(tmp_path / "idx")


def test_missing_or_corrupt_manifest(tmp_path):
    random_index(50)[0].save(tmp_path / "idx")
    (tmp_path / "idx" / "manifest.json").write_text("{not json")
    with pytest.raises(S2RError, match="manifest.json: corrupt"):
        DocIndex.load(tmp_path / "idx")
    (tmp_path / "idx" / "manifest.json").unlink()
    with pytest.raises(S2RError, match="manifest.json: missing"):
        DocIndex.load(tmp_path / "idx")


def test_query_of_the_wrong_dimension_is_refused():
    index, _ = random_index(20)
    with pytest.raises(S2RError, match="dimension 128"):
        index.search(np.ones(128, dtype=np.float32))


def test_demo_index_finds_a_doc_by_its_own_text(demo_index):
    from s2r_edge.teacher import embed_texts

    doc = demo_index.docs[5]
    assert demo_index.search(embed_texts([doc.text])[0], k=1)[0].id == doc.id


# --- compact storage: 4-bit codes in RAM, vectors on disk --------------------------------------------------------


def mixed_vectors(base: np.ndarray, n: int, seed: int = 3) -> np.ndarray:
    """`n` unit vectors: mixes of two real teacher vectors plus a little noise (a corpus larger than the demo's)."""
    rng = np.random.default_rng(seed)
    i, j = rng.integers(len(base), size=(2, n))
    a = rng.uniform(0.3, 0.7, (n, 1)).astype(np.float32)
    v = a * base[i] + (1 - a) * base[j] + rng.normal(0, 0.01, (n, base.shape[1])).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def demo_vectors(demo_index: DocIndex) -> np.ndarray:
    return np.asarray(demo_index.graph.get_items(range(len(demo_index))), dtype=np.float32)


def saved_compact(tmp_path, docs: list[Doc], vecs: np.ndarray, dim: int = 128, rerank: int = 32) -> DocIndex:
    """A compact index of `vecs` saved under tmp_path/idx and loaded back for search."""
    DocIndex.build(docs, vecs, HnswParams(M=8, ef_construction=100), Compression(dim=dim, rerank=rerank)).save(tmp_path / "idx")
    return DocIndex.load(tmp_path / "idx")


def noisy_queries(vecs: np.ndarray, n: int = 60) -> np.ndarray:
    rng = np.random.default_rng(2)
    q = vecs[rng.choice(len(vecs), n, replace=False)] + rng.normal(0, 0.04, (n, vecs.shape[1])).astype(np.float32)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def recall_at_10(index: DocIndex, vecs: np.ndarray, queries: np.ndarray) -> float:
    ids = [d.id for d in index.docs]
    hits = [{h.id for h in index.search(q, 10)} for q in queries]
    exact = [{ids[i] for i in np.argsort(-vecs @ q)[:10]} for q in queries]
    return float(np.mean([len(h & e) / 10 for h, e in zip(hits, exact)]))


def test_compact_search_keeps_vectors_on_disk_and_scores_exactly(tmp_path, demo_index):
    from s2r_edge.compact import CompactGraph

    base = demo_vectors(demo_index)
    vecs = np.vstack([base, mixed_vectors(base, 3000)])
    docs = [Doc(f"m{i}", "t") for i in range(len(vecs))]
    index = saved_compact(tmp_path, docs, vecs)
    assert isinstance(index.graph, CompactGraph) and not index.editable
    queries = noisy_queries(vecs)
    assert recall_at_10(index, vecs, queries) >= 0.97
    for q in queries[:5]:
        hits = index.search(q, 3)
        assert [h.score for h in hits] == pytest.approx([float(vecs[int(h.id[1:])] @ q) for h in hits], abs=1e-5)
    with pytest.raises(S2RError, match="dimension 32, the index holds 384-d"):
        index.search(queries[0][:32])
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert manifest["format_version"] == 3 and manifest["dim"] == 384 and manifest["codes"]["rerank"] == 32
    assert manifest["projection"] == {**manifest["projection"], "kind": "pca", "in_dim": 384, "out_dim": 128}
    assert set(manifest["files"]) == {"index.hnsw", "docs.jsonl", "codes.npz"}
    editable = DocIndex.load(tmp_path / "idx", editable=True)
    assert [h.id for h in editable.search(queries[0], 5)] == [h.id for h in index.search(queries[0], 5)]


def test_a_search_only_index_refuses_edits(tmp_path, demo_index):
    index = saved_compact(tmp_path, demo_index.docs, demo_vectors(demo_index))
    for edit in (lambda: index.remove(["x"]), lambda: index.save(tmp_path / "other")):
        with pytest.raises(S2RError, match="loaded for search only.*editable=True"):
            edit()


def test_a_compact_index_without_the_compiled_walker_says_how_to_get_it(tmp_path, demo_index, monkeypatch):
    # a host where the install did not build s2r_edge._walk (a training host, DESIGN.md § GPU host)
    saved_compact(tmp_path, demo_index.docs, demo_vectors(demo_index))
    monkeypatch.setattr("s2r_edge.compact._walk", None)
    with pytest.raises(S2RError, match=r"graph walker \(s2r_edge._walk\) is not built here.*make setup"):
        DocIndex.load(tmp_path / "idx")
    assert len(DocIndex.load(tmp_path / "idx", editable=True)) == len(demo_index)  # hnswlib's own walk needs none


def test_compact_edits_reach_the_search_only_load(tmp_path, demo_index):
    """Removed docs are skipped by the C walk (hnswlib's delete mark), re-added ones found again."""
    vecs = demo_vectors(demo_index)
    saved_compact(tmp_path, demo_index.docs, vecs)
    doc = demo_index.docs[11]
    editable = DocIndex.load(tmp_path / "idx", editable=True)
    editable.remove([doc.id])
    editable.save(tmp_path / "idx")
    assert doc.id not in {h.id for h in DocIndex.load(tmp_path / "idx").search(vecs[11], 10)}
    editable.add([doc], vecs[11:12])
    editable.save(tmp_path / "idx")
    assert DocIndex.load(tmp_path / "idx").search(vecs[11], 1)[0].id == doc.id


def test_compact_filter_through_the_walk_and_exactly(tmp_path, demo_index):
    base = demo_vectors(demo_index)
    vecs = mixed_vectors(base, 5000)
    docs = [Doc(f"m{i}", "t", {"half": str(i % 2), "rare": str(i % 500 == 0)}) for i in range(len(vecs))]
    index = saved_compact(tmp_path, docs, vecs)
    q = noisy_queries(vecs, 1)[0]
    for where, keep in (({"half": "1"}, lambda i: i % 2 == 1), ({"rare": "True"}, lambda i: i % 500 == 0)):
        allowed = [i for i in range(len(vecs)) if keep(i)]  # 2500 go through the walk's mask, 10 are scored exactly
        exact = [f"m{i}" for i in sorted(allowed, key=lambda i: -float(vecs[i] @ q))[:5]]
        assert [h.id for h in index.search(q, 5, where=where)] == exact


def test_an_edited_codes_file_is_named(tmp_path, demo_index):
    saved_compact(tmp_path, demo_index.docs, demo_vectors(demo_index))
    path = tmp_path / "idx" / "codes.npz"
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(S2RError, match="codes.npz: changed since the index was built"):
        DocIndex.load(tmp_path / "idx")


def test_codes_need_more_docs_than_dimensions():
    vecs = np.eye(20, 384, dtype=np.float32)
    with pytest.raises(S2RError, match="needs more than 64"):
        DocIndex.build([Doc(f"d{i}", "t") for i in range(20)], vecs, compression=Compression(dim=64))


# --- add and remove without a rebuild ---------------------------------------------------------------------------


def test_remove_then_add_reuses_labels_and_survives_a_round_trip(tmp_path):
    index, vecs = random_index(100)
    index.remove(["d7", "d8"])
    assert len(index) == 98 and "d7" not in {h.id for h in index.search(vecs[7], 5)}
    index.save(tmp_path / "idx")
    rows = (tmp_path / "idx" / "docs.jsonl").read_text().splitlines()
    assert len(rows) == 100 and json.loads(rows[7]) == {"id": "d7", "text": "(removed)", "_removed": True}
    index = DocIndex.load(tmp_path / "idx")
    assert len(index) == 98 and "d7" not in {d.id for d in index.docs}
    new = Doc("new", "a new doc", {"domain": "y"})
    rng = np.random.default_rng(5)
    extra = rng.standard_normal((3, 384)).astype(np.float32)
    extra /= np.linalg.norm(extra, axis=1, keepdims=True)
    index.add([Doc("d7", "doc 7 again", {"domain": "x"}), new, Doc("grown", "one more")], np.vstack([vecs[7], extra[:2]]))
    assert index.rows[7].text == "doc 7 again" and index.rows[8].id == "new"  # own row back, then the free one
    assert len(index.rows) == 101 and index.rows[100].id == "grown"  # then the graph grows
    assert index.search(vecs[7], 1)[0].id == "d7" and index.search(extra[0], 1)[0].id == "new"
    index.save(tmp_path / "idx")
    again = DocIndex.load(tmp_path / "idx")
    assert len(again) == 101 and again.search(extra[1], 1)[0].id == "grown"


def test_add_and_remove_refuse_bad_ids():
    index, vecs = random_index(50)
    with pytest.raises(S2RError, match="'d3' is already in the index"):
        index.add([Doc("d3", "again")], vecs[:1])
    with pytest.raises(S2RError, match="no document with id 'nope'"):
        index.remove(["d1", "nope"])
    assert len(index) == 50  # nothing removed by the refused call
    with pytest.raises(S2RError, match="dimension 128"):
        index.add([Doc("x", "y")], np.ones((1, 128), dtype=np.float32))


# --- metadata filter ------------------------------------------------------------------------------------------


def test_filter_keeps_only_matching_docs(demo_index):
    vecs = demo_vectors(demo_index)
    settings = [i for i, d in enumerate(demo_index.docs) if d.meta.get("domain") == "settings"]
    other = next(i for i, d in enumerate(demo_index.docs) if d.meta.get("domain") != "settings")
    hits = demo_index.search(vecs[other], 5, where={"domain": "settings"})
    assert len(hits) == 5 and all(h.meta["domain"] == "settings" for h in hits)
    exact = [demo_index.docs[i].id for i in sorted(settings, key=lambda i: -float(vecs[i] @ vecs[other]))[:5]]
    assert [h.id for h in hits] == exact
    assert demo_index.search(vecs[other], 5, where={"domain": "no such domain"}) == []
    with pytest.raises(S2RError, match="no document has a field 'domian'"):
        demo_index.search(vecs[other], 5, where={"domian": "settings"})


def test_filter_through_the_graph_on_a_large_index():
    index, vecs = random_index(6000, dim=32)
    for i, d in enumerate(index.rows):
        d.meta["domain"] = "even" if i % 2 == 0 else "odd"
    hits = index.search(vecs[3], 10, where={"domain": "even"})
    assert len(hits) == 10 and all(int(h.id[1:]) % 2 == 0 for h in hits)


# --- concurrent writers ---------------------------------------------------------------------------------------

WRITER = """
import sys
import numpy as np
from s2r_edge.index import Compression, DocIndex, HnswParams
from s2r_edge.texts import Doc
import time
n, out, start = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
vecs = np.random.default_rng(n).standard_normal((n, 16)).astype(np.float32)
index = DocIndex.build([Doc(f"w{n}-{i}", "t") for i in range(n)], vecs)
time.sleep(max(0.0, start - time.time()))  # both writers start saving at the same moment
for _ in range(60):
    index.save(out)
"""


def test_two_builds_into_one_directory_at_once_leave_one_whole(tmp_path):
    import subprocess
    import sys
    import time

    out, start = tmp_path / "idx", time.time() + 8
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(n), str(out), str(start)], stderr=subprocess.PIPE,
                                text=True) for n in (300, 700)]
    for w in writers:
        assert w.wait(timeout=300) == 0, w.stderr.read()
    index = DocIndex.load(out)
    assert len(index) in (300, 700) and {d.id.split("-")[0] for d in index.docs} == {f"w{len(index)}"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]


def test_an_edit_over_someone_elses_save_is_refused(tmp_path):
    random_index(50)[0].save(tmp_path / "idx")
    first, second = DocIndex.load(tmp_path / "idx"), DocIndex.load(tmp_path / "idx")
    first.remove(["d1"])
    first.save(tmp_path / "idx")
    second.remove(["d2"])
    with pytest.raises(S2RError, match="changed by another process since it was loaded"):
        second.save(tmp_path / "idx")
    assert {d.id for d in DocIndex.load(tmp_path / "idx").docs} == {f"d{i}" for i in range(50)} - {"d1"}
