"""Shared fixtures: real TTS speech, the shipped model and checkpoint, and a real index of the demo corpus."""

from __future__ import annotations

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
