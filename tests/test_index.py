"""The index directory: search agrees with exact cosine, files are verified on load, saves are atomic."""

import json

import numpy as np
import pytest

from s2r_edge.errors import S2RError
from s2r_edge.index import DocIndex
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
