"""pytest-benchmark suites: encoder step per program, end of speech -> hits per system, index search, load.

Run: `make bench` (or `.venv/bin/python -m pytest benchmarks/test_speed.py --benchmark-json=build/speed.json`).
Compare two runs with `pytest-benchmark compare` or `--benchmark-compare`. Every timing is one thread on one
core; the inputs are real: TTS speech of test queries, the benchmark index of 100k documents.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from s2r_edge import cascade
from s2r_edge.index import DocIndex
from s2r_edge.model import StepModule, load_checkpoint
from s2r_edge.runtime import DEFAULT_MODEL, PteEncoder, Searcher
from s2r_edge.texts import DEMO_QUERIES, read_queries
from s2r_edge.voices import DEMO_VOICE, Voice

from eval_bench import BUILD, bench_index

CHECKPOINT = DEFAULT_MODEL.parent / "encoder.pt"
PROGRAMS = BUILD / "programs"


@pytest.fixture(scope="module")
def query() -> tuple[str, np.ndarray]:
    """A test query's text and its speech (a training voice, 16 kHz)."""
    text = read_queries(DEMO_QUERIES, need_audio=False)[3].text
    return text, Voice.parse(DEMO_VOICE).speak(text)


@pytest.fixture(scope="module")
def programs() -> dict[str, Path]:
    """fp32 .pte and ONNX exported from the shipped checkpoint (rebuilt when the checkpoint is newer)."""
    from s2r_edge.export.onnx import export_onnx
    from s2r_edge.export.pte import export_pte

    out = {"pte-fp32": PROGRAMS / "encoder_fp32.pte", "onnx-fp32": PROGRAMS / "encoder.onnx"}
    if any(not p.is_file() or p.stat().st_mtime < CHECKPOINT.stat().st_mtime for p in out.values()):
        encoder, _ = load_checkpoint(CHECKPOINT)
        export_pte(encoder, out["pte-fp32"], int8=False)
        export_onnx(encoder, out["onnx-fp32"])
    return out


class EagerEncoder:
    """The fp32 checkpoint's `step` in eager PyTorch, stepped like the exported programs."""

    def __init__(self) -> None:
        encoder, _ = load_checkpoint(CHECKPOINT)
        self.module, self.state = StepModule(encoder.eval()), encoder.initial_state()

    def initial_state(self) -> list[torch.Tensor]:
        return self.state

    @torch.no_grad()
    def step(self, chunk: np.ndarray, state: list[torch.Tensor]) -> tuple[np.ndarray, list[torch.Tensor]]:
        out = self.module(torch.from_numpy(chunk[None, :]), *state)
        return out[0].numpy()[0], list(out[1:])


def load_encoder(name: str, programs: dict[str, Path]):  # type: ignore[no-untyped-def]
    torch.set_num_threads(1)
    if name == "eager-fp32":
        return EagerEncoder()
    if name == "onnx-fp32":
        from s2r_edge.export.onnx import OnnxEncoder

        return OnnxEncoder(programs[name], threads=1)
    return PteEncoder(DEFAULT_MODEL if name == "pte-int8" else programs[name], threads=1)


@pytest.mark.parametrize("name", ["eager-fp32", "pte-fp32", "pte-int8", "onnx-fp32"])
def test_encoder_step(benchmark, name, programs, query):
    """One 160 ms chunk through `step`, with the state a real utterance left after its first half."""
    benchmark.group = "encoder step (160 ms chunk)"
    encoder = load_encoder(name, programs)
    wav, n = query[1], 2560
    state = encoder.initial_state()
    chunks = [np.ascontiguousarray(wav[i : i + n]) for i in range(0, len(wav) - n + 1, n)]
    for chunk in chunks[: len(chunks) // 2]:
        _, state = encoder.step(chunk, state)
    emb, _ = benchmark(encoder.step, chunks[len(chunks) // 2], state)
    assert np.isfinite(emb).all() and abs(float(np.linalg.norm(emb)) - 1) < 1e-3


@pytest.fixture(scope="module")
def big_index() -> DocIndex:
    return DocIndex.load(bench_index())


@pytest.fixture(scope="module")
def searcher(big_index) -> Searcher:
    return Searcher(PteEncoder(DEFAULT_MODEL, threads=1), big_index)


def test_end_to_hits_s2r(benchmark, searcher, query):
    """Everything after the last sample: the zero-padded tail chunk through the encoder, then top-10 search."""
    benchmark.group = "end of speech -> top-10 hits (100k docs)"
    wav = query[1]

    def setup():  # the audio up to its last full chunk, encoded while the user speaks
        stream = searcher.create_stream()
        stream.accept_waveform(16000, wav)
        return (stream,), {}

    hits = benchmark.pedantic(lambda stream: stream.finish(k=10), setup=setup, rounds=30)
    assert len(hits) == 10


def test_end_to_hits_cascade_asr(benchmark, big_index, query):
    """Closing the PocketSphinx utterance (fed in 160 ms chunks beforehand), the teacher, the search."""
    benchmark.group = "end of speech -> top-10 hits (100k docs)"
    torch.set_num_threads(1)

    def setup():  # the recogniser hears the whole utterance while the user speaks
        cascade.listen(query[1])
        return (), {}

    benchmark.pedantic(lambda: cascade.search_text(big_index, cascade.finish())[0], setup=setup, rounds=10)


def test_end_to_hits_cascade_gt(benchmark, big_index, query):
    """The true transcript through the teacher and the search: what a perfect recogniser would leave to do."""
    benchmark.group = "end of speech -> top-10 hits (100k docs)"
    torch.set_num_threads(1)
    hits, _ = benchmark(cascade.search_text, big_index, query[0])
    assert len(hits) == 10


@pytest.mark.parametrize("size", [10_000, None], ids=["10k", "100k"])
def test_index_search(benchmark, big_index, size, query, searcher):
    """Top-10 for a real query vector, in an index of the first 10k benchmark docs and in the whole one."""
    index = big_index
    if size is not None:
        vectors = big_index.graph.get_items(list(range(size)), return_type="numpy")
        index = DocIndex.build(big_index.docs[:size], vectors)
    benchmark.group = "index search, top 10"
    vector = searcher.search_samples(query[1]).embedding
    assert len(benchmark(index.search, vector, 10)) == 10


def test_load_model(benchmark):
    benchmark.group = "load"
    benchmark.pedantic(PteEncoder, args=(DEFAULT_MODEL,), rounds=5)


def test_load_index(benchmark):
    """Reading and verifying (sha256) the 100k-doc index directory."""
    benchmark.group = "load"
    benchmark.pedantic(DocIndex.load, args=(bench_index(),), rounds=3)


def test_cold_start_search(benchmark, tmp_path, query):
    """`s2r-edge search` as a new process: interpreter, imports, model and index load, one query."""
    benchmark.group = "load"
    wav = tmp_path / "q.wav"
    sf.write(wav, query[1], 16000)
    cmd = [sys.executable, "-m", "s2r_edge.cli", "search", "--index", str(bench_index()), "--audio", str(wav), "--json"]
    run = benchmark.pedantic(subprocess.run, args=(cmd,), kwargs={"capture_output": True}, rounds=3)
    assert run.returncode == 0, run.stderr
