"""The native C++ runner (benchmarks/native): same hits as `s2r-edge search --json`, clear errors on bad input."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from s2r_edge.cli import main
from s2r_edge.index import DocIndex
from s2r_edge.runtime import DEFAULT_MODEL
from s2r_edge.texts import DEMO_DOCS, read_docs

NATIVE = Path(__file__).parent.parent / "benchmarks" / "native"


@pytest.fixture(scope="session")
def native() -> Path:
    """The runner, configured and built like `make native` (a no-op when the build is up to date)."""
    import executorch

    build = NATIVE / "build"
    prefix = list(executorch.__path__)[0]
    configure = ["cmake", "-S", str(NATIVE), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release", f"-DCMAKE_PREFIX_PATH={prefix}"]
    subprocess.run(configure, check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(build), "-j2"], check=True, capture_output=True)
    return build / "s2r_native"


def run_native(native: Path, *args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(native), *map(str, args)], capture_output=True, text=True, timeout=120)


def search_json(*args: str | Path) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["search", *map(str, args), "--json"]) == 0
    return json.loads(out.getvalue())


@pytest.fixture(scope="module")
def wavs(tmp_path_factory, speech) -> list[Path]:
    """Four spoken queries as 16-bit PCM WAV files, as a phone would record them."""
    folder = tmp_path_factory.mktemp("native_audio")
    paths = []
    for i, wav in enumerate(speech[:4]):
        paths.append(folder / f"q{i}.wav")
        sf.write(paths[-1], wav, 16000, subtype="PCM_16")
    return paths


def test_native_hits_equal_python_search(native, index_dir, wavs):
    for wav in wavs:
        done = run_native(native, "--model", DEFAULT_MODEL, "--index", index_dir, "--audio", wav, "-k", 10)
        assert done.returncode == 0, done.stderr
        got = json.loads(done.stdout)
        want = search_json("--index", index_dir, "--audio", wav, "-k", 10)
        assert [h["id"] for h in got["hits"]] == [h["id"] for h in want["hits"]]
        assert np.allclose([h["score"] for h in got["hits"]], [h["score"] for h in want["hits"]], atol=1e-3)
        assert got["hits"][0]["text"] == want["hits"][0]["text"]
        assert got["chunks"] == want["chunks"] == len(got["chunk_ms"])
        assert 0 < got["chunk_ms_p50"] <= got["chunk_ms_p90"]
        assert got["peak_rss_mb"] > 0
        assert got["model"]["teacher"] == "all-MiniLM-L6-v2"


def test_a_compact_index_is_read_with_its_full_vectors(native, tmp_path, demo_index, wavs):
    """v3 adds codes.npz for Python's compact search; the native runner searches index.hnsw's full vectors."""
    from s2r_edge.index import Compression, HnswParams

    vecs = np.asarray(demo_index.graph.get_items(range(len(demo_index))), dtype=np.float32)
    DocIndex.build(demo_index.docs, vecs, HnswParams(), Compression(dim=128)).save(tmp_path / "compact")
    done = run_native(native, "--model", DEFAULT_MODEL, "--index", tmp_path / "compact", "--audio", wavs[0], "-k", 5)
    assert done.returncode == 0, done.stderr
    want = search_json("--index", tmp_path / "compact", "--audio", wavs[0], "-k", 5)
    assert [h["id"] for h in json.loads(done.stdout)["hits"]] == [h["id"] for h in want["hits"]]


def test_threads_are_settable(native, index_dir, wavs):
    done = run_native(native, "--model", DEFAULT_MODEL, "--index", index_dir, "--audio", wavs[0], "--threads", 2, "-k", 3)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["threads"] == 2


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_damaged_program_is_a_clear_error(native, tmp_path, index_dir, wavs, damage):
    data = DEFAULT_MODEL.read_bytes()
    path = tmp_path / "bad.pte"
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"\x00" * 64 + data[64:], "empty": b""}[damage])
    done = run_native(native, "--model", path, "--index", index_dir, "--audio", wavs[0])
    assert done.returncode == 1  # an error exit, not a signal
    assert "bad.pte" in done.stderr and "re-export" in done.stderr


def test_index_of_another_dimension_is_refused_naming_both(native, tmp_path, wavs):
    docs = read_docs(DEMO_DOCS)[:10]
    DocIndex.build(docs, np.eye(10, 64, dtype=np.float32)).save(tmp_path / "idx64")
    done = run_native(native, "--model", DEFAULT_MODEL, "--index", tmp_path / "idx64", "--audio", wavs[0])
    assert done.returncode == 1
    assert "384-d" in done.stderr and "64-d" in done.stderr


def test_index_of_another_teacher_is_refused_naming_both(native, tmp_path, index_dir, wavs):
    other = shutil.copytree(index_dir, tmp_path / "other")
    manifest = json.loads((other / "manifest.json").read_text())
    (other / "manifest.json").write_text(json.dumps({**manifest, "teacher": "bge-small-en"}))
    done = run_native(native, "--model", DEFAULT_MODEL, "--index", other, "--audio", wavs[0])
    assert done.returncode == 1
    assert "'all-MiniLM-L6-v2'" in done.stderr and "'bge-small-en'" in done.stderr


def test_edited_index_is_refused(native, tmp_path, index_dir, wavs):
    edited = shutil.copytree(index_dir, tmp_path / "edited")
    with open(edited / "docs.jsonl", "a") as f:
        f.write('{"id": "x", "text": "sneaked in"}\n')
    done = run_native(native, "--model", DEFAULT_MODEL, "--index", edited, "--audio", wavs[0])
    assert done.returncode == 1 and "sha256 mismatch" in done.stderr


def test_unsupported_or_missing_audio_is_refused(native, tmp_path, index_dir, speech):
    stereo = tmp_path / "stereo44k.wav"
    sf.write(stereo, np.stack([speech[0], speech[0]], axis=1), 44100)
    not_wav = tmp_path / "notes.wav"
    not_wav.write_text("hello")
    for audio, message in ((stereo, "2 channel(s) at 44100 Hz"), (not_wav, "not a WAV file"), (tmp_path / "none.wav", "cannot open")):
        done = run_native(native, "--model", DEFAULT_MODEL, "--index", index_dir, "--audio", audio)
        assert done.returncode == 1 and message in done.stderr, done.stderr
