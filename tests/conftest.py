"""Shared fixtures: real TTS speech, the shipped model and checkpoint, a real index of the demo corpus, and a toy
corpus of three docs for the retrieval term."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from s2r_edge.index import DocIndex, build_index
from s2r_edge.model import StreamingEncoder, load_checkpoint
from s2r_edge.runtime import DEFAULT_MODEL, PteEncoder
from s2r_edge.texts import DEMO_DOCS, DEMO_QUERIES, read_docs, read_queries
from s2r_edge.voices import DEMO_VOICE, Voice

CHECKPOINT = DEFAULT_MODEL.parent / "encoder.pt"


@pytest.fixture(scope="session")
def demo_queries():
    return read_queries(DEMO_QUERIES, need_audio=False)


@pytest.fixture(scope="session")
def speech(demo_queries) -> list[np.ndarray]:
    """Eight held-out query texts spoken by a training voice, 16 kHz float32."""
    voice = Voice.parse(DEMO_VOICE)
    return [voice.speak(q.text) for q in demo_queries[::15]]


@pytest.fixture(scope="session")
def loud_noise() -> np.ndarray:
    """Ten seconds of loud white noise, 16 kHz float32: enough to pull PocketSphinx's channel estimate off speech."""
    return np.random.default_rng(0).normal(0, 0.3, 16000 * 10).astype(np.float32)


@pytest.fixture(scope="session")
def query_wav(tmp_path_factory, speech) -> Path:
    path = tmp_path_factory.mktemp("audio") / "query.wav"
    sf.write(path, speech[0], 16000)
    return path


@pytest.fixture(scope="session")
def index_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("index") / "demo"
    build_index(read_docs(DEMO_DOCS), path, progress=False)
    return path


@pytest.fixture(scope="session")
def demo_index(index_dir) -> DocIndex:
    return DocIndex.load(index_dir)


@pytest.fixture(scope="session")
def eager() -> StreamingEncoder:
    return load_checkpoint(CHECKPOINT)[0]


@pytest.fixture(scope="session")
def pte() -> PteEncoder:
    return PteEncoder(DEFAULT_MODEL)


TOY_DOCS = [{"id": "torch", "text": "Flashlight. Turn the camera light on or off.", "title": "Flashlight"},
            {"id": "calls", "text": "Calls. Ring a contact, use the speaker, hold or mute."},
            {"id": "lists", "text": "Shopping list. Add, tick off and share the things to buy.", "title": "Shopping List"}]
TOY_QUERIES = [{"text": "Turn on the torch", "relevant": ["torch"]},
               {"text": "call mum on speaker", "relevant": ["calls", "torch"]}]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def toy_corpus(tmp_path) -> tuple[Path, Path]:
    """Three docs (two with titles) and two labelled queries, one relevant to two docs: (docs.jsonl, queries.jsonl)."""
    return write_jsonl(tmp_path / "docs.jsonl", TOY_DOCS), write_jsonl(tmp_path / "q.jsonl", TOY_QUERIES)
