"""Run time: the exported encoder through the ExecuTorch runtime, streamed chunk by chunk, searched in the index.

One `Searcher` (model + index) is shared; each utterance gets a `Stream` that owns the encoder state and
the samples not yet filling a chunk (the shape of sherpa-onnx's recognizer and streams).
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from s2r_edge.audio import SAMPLE_RATE, StreamResampler, check_speech, load_audio, resample, to_mono
from s2r_edge.errors import S2RError
from s2r_edge.index import DocIndex, Hit

DEFAULT_MODEL = Path(__file__).parent / "models" / "encoder_int8.pte"  # the shipped default
METADATA = ("sample_rate", "chunk_samples", "emb_dim", "model_version", "teacher")  # constant methods in the .pte


@dataclass(frozen=True)
class ModelInfo:
    """Metadata baked into an exported program."""

    sample_rate: int
    chunk_samples: int
    emb_dim: int
    model_version: str
    teacher: str


@contextmanager
def _quiet_native_logs() -> Iterator[None]:
    """Silence the runtime's C++ start-up chatter (cpuinfo probing) on fd 2; errors still raise."""
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class PteEncoder:
    """An exported streaming encoder loaded with the ExecuTorch runtime (verified on load)."""

    def __init__(self, path: str | Path = DEFAULT_MODEL, threads: int = 1) -> None:
        """Load and verify `path`. `threads` sizes XNNPACK's thread pool, which is shared by the whole process."""
        # The runtime extension itself: `executorch.runtime` / `portable_lib` import the whole export stack
        # (executorch.exir, ~5 s of start-up) only to emit a warning.
        from executorch.extension.pybindings import _C as et

        if threads < 1:
            raise S2RError(f"threads must be at least 1, got {threads}")
        with _quiet_native_logs():
            if et._threadpool_get_thread_count() != threads:
                et._unsafe_reset_threadpool(threads)
        self.path = Path(path)
        if not self.path.is_file():
            raise S2RError(f"{self.path}: no such model file; export one with `s2r-edge export`")
        try:
            program = et._load_program(str(self.path), program_verification=et.Verification.InternalConsistency)
            names = {program.get_method_name(i) for i in range(program.num_methods())}
            missing = [m for m in ("forward", *METADATA) if m not in names]
            if missing:
                raise S2RError(f"{self.path}: not an s2r-edge encoder (no method {', '.join(missing)}); re-export it")
            values = {m: program.load_method(m).call([])[0] for m in METADATA}
            with _quiet_native_logs():
                self._forward = program.load_method("forward")
            meta = program.method_meta("forward")
        except S2RError:
            raise
        except (RuntimeError, ValueError) as exc:
            raise S2RError(f"{self.path}: not a valid ExecuTorch program ({exc}); re-export or re-download it") from None
        self.info = ModelInfo(
            sample_rate=int(values["sample_rate"]),
            chunk_samples=int(values["chunk_samples"]),
            emb_dim=int(values["emb_dim"]),
            model_version=_as_str(values["model_version"]),
            teacher=_as_str(values["teacher"]),
        )
        self.state_shapes = [tuple(meta.input_tensor_meta(i).sizes()) for i in range(1, meta.num_inputs())]
        self._program = program  # keeps the methods' memory alive

    def initial_state(self) -> list[torch.Tensor]:
        return [torch.zeros(s) for s in self.state_shapes]

    def step(self, chunk: np.ndarray, state: list[torch.Tensor]) -> tuple[np.ndarray, list[torch.Tensor]]:
        """One chunk (chunk_samples,) float32 -> (embedding (emb_dim,), new state)."""
        out = self._forward.call([torch.from_numpy(chunk.reshape(1, -1)), *state])
        return out[0].numpy().reshape(-1), list(out[1:])


def _as_str(value: object) -> str:
    """Strings are baked into the program as uint8 tensors of their UTF-8 bytes."""
    if isinstance(value, torch.Tensor):
        return bytes(value.to(torch.uint8).tolist()).decode()
    return str(value)


class Stream:
    """One utterance: accepts audio in any chunk size and rate, steps the encoder per full chunk."""

    def __init__(self, searcher: Searcher) -> None:
        self._searcher = searcher
        self._enc = searcher.encoder
        self._state = self._enc.initial_state()
        self._pending = np.zeros(0, dtype=np.float32)
        self._resampler: StreamResampler | None = None  # made at the first block's rate, kept for the stream
        self._embedding: np.ndarray | None = None
        self.samples_seen = 0
        self.chunks = 0
        self.last_step_ms = 0.0

    def accept_waveform(self, sample_rate: int, samples: np.ndarray) -> None:
        """Add mono (n,) or (n, channels) float samples at `sample_rate`; full chunks are encoded at once.

        Resampling carries its filter state across calls, so any chunking gives the same audio as one call."""
        samples = np.asarray(samples, dtype=np.float32)
        if not np.all(np.isfinite(samples)):
            raise S2RError("audio contains NaN or infinite samples; check the source that produced it")
        if self._resampler is None:
            self._resampler = StreamResampler(sample_rate, self._enc.info.sample_rate)
        elif self._resampler.rate != sample_rate:
            raise S2RError(f"the stream started at {self._resampler.rate} Hz but got a block at {sample_rate} Hz; "
                           "start a new stream for audio at another rate")
        self._add(self._resampler.push(to_mono(samples)))

    def _add(self, samples: np.ndarray) -> None:
        """Buffer model-rate samples and encode every full chunk."""
        self.samples_seen += len(samples)
        self._pending = np.concatenate([self._pending, samples])
        n = self._enc.info.chunk_samples
        while len(self._pending) >= n:
            self._step(self._pending[:n])
            self._pending = self._pending[n:]

    def _step(self, chunk: np.ndarray) -> None:
        t0 = time.perf_counter()
        self._embedding, self._state = self._enc.step(np.ascontiguousarray(chunk), self._state)
        self.last_step_ms = (time.perf_counter() - t0) * 1000
        self.chunks += 1

    @property
    def embedding(self) -> np.ndarray | None:
        """The query vector of everything encoded so far (None before the first full chunk)."""
        return self._embedding

    def hits(self, k: int = 10, where: dict | None = None) -> list[Hit]:
        """Partial results for what has been heard so far (empty before the first full chunk); `where` filters
        on doc fields as in `DocIndex.search`."""
        return [] if self._embedding is None else self._searcher.index.search(self._embedding, k, where)

    def finish(self, k: int = 10, where: dict | None = None) -> list[Hit]:
        """Flush the buffered tail (zero-padded to a chunk) and return the final hits."""
        if self._resampler is not None:
            self._add(self._resampler.flush())
        if self.samples_seen == 0:
            raise S2RError("the stream received no audio")
        if len(self._pending) or self._embedding is None:
            chunk = np.zeros(self._enc.info.chunk_samples, dtype=np.float32)
            chunk[: len(self._pending)] = self._pending
            self._pending = self._pending[:0]
            self._step(chunk)
        return self.hits(k, where)


@dataclass(frozen=True)
class SearchResult:
    """Hits for one whole query plus where the time went."""

    hits: list[Hit]
    audio_s: float  # length of the query audio
    encode_ms: float  # all chunks through the encoder
    end_to_hits_ms: float  # from the last sample to the hits: the final chunk's step plus the search
    chunks: int
    embedding: np.ndarray  # the query vector (emb_dim,)

    def to_json(self) -> dict:
        return {
            "hits": [h.to_json() for h in self.hits],
            "audio_s": round(self.audio_s, 3),
            "encode_ms": round(self.encode_ms, 3),
            "end_to_hits_ms": round(self.end_to_hits_ms, 3),
            "chunks": self.chunks,
        }


class Searcher:
    """The shared engine: one encoder and one index that agree on dimension and teacher."""

    def __init__(self, encoder: PteEncoder, index: DocIndex) -> None:
        if encoder.info.emb_dim != index.dim or encoder.info.teacher != index.teacher:
            raise S2RError(
                f"model {encoder.path} embeds {encoder.info.emb_dim}-d vectors of teacher {encoder.info.teacher!r}, "
                f"but the index holds {index.dim}-d vectors of teacher {index.teacher!r}; rebuild the index or "
                "pick the matching model"
            )
        self.encoder = encoder
        self.index = index

    @classmethod
    def load(cls, index_dir: str | Path, model: str | Path | None = None) -> Searcher:
        """Load the index directory and the model (the shipped default int8 program unless given)."""
        return cls(PteEncoder(model or DEFAULT_MODEL), DocIndex.load(index_dir))

    def create_stream(self) -> Stream:
        return Stream(self)

    def search_samples(self, samples: np.ndarray, sample_rate: int = SAMPLE_RATE, k: int = 10,
                       where: dict | None = None) -> SearchResult:
        """Stream a whole utterance through the encoder chunk by chunk and search with its final vector."""
        samples = check_speech(resample(to_mono(np.asarray(samples, dtype=np.float32)), sample_rate), "query")
        stream = self.create_stream()
        t0 = time.perf_counter()
        stream.accept_waveform(SAMPLE_RATE, samples)
        t_end = time.perf_counter()
        hits = stream.finish(k, where)
        t_hits = time.perf_counter()
        final_ms = (t_hits - t_end) * 1000
        if stream.chunks and not len(samples) % self.encoder.info.chunk_samples:
            final_ms += stream.last_step_ms  # the audio ended on a chunk boundary: its last step was the final one
        return SearchResult(
            hits, len(samples) / SAMPLE_RATE, (t_hits - t0) * 1000, final_ms, stream.chunks, stream.embedding
        )

    def search_wav(self, path: str | Path, k: int = 10, where: dict | None = None) -> SearchResult:
        """Search with a whole audio file (any rate or channel count; resampled to 16 kHz mono)."""
        return self.search_samples(load_audio(path), SAMPLE_RATE, k, where)
