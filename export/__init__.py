"""Export: the student's streaming `step` as ExecuTorch programs (`pte`) and ONNX (`onnx`), with the metadata
a device needs to feed it, calibrated on training-voice speech (`calibrate`)."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from s2r_edge.model import StreamingEncoder


def model_metadata(encoder: StreamingEncoder) -> dict[str, int | str]:
    """What travels with every exported program: sample rate, chunk size, embedding dim, version, teacher."""
    cfg = encoder.cfg
    return {
        "sample_rate": cfg.sample_rate,
        "chunk_samples": cfg.chunk_samples,
        "emb_dim": cfg.emb_dim,
        "model_version": cfg.version,
        "teacher": cfg.teacher,
    }


def example_inputs(encoder: StreamingEncoder) -> tuple[torch.Tensor, ...]:
    """One silent chunk and the zero state: the signature of `step` that is exported."""
    return (torch.zeros(1, encoder.cfg.chunk_samples), *encoder.initial_state())


def state_names(encoder: StreamingEncoder) -> list[str]:
    """Names of the state tensors, in `state_shapes` order (used as ONNX input and output names)."""
    caches = [f"conv_cache_{i}" for i in range(len(encoder.blocks))]
    norm = ["mel_sum", "mel_weight"] if encoder.mean_norm is not None else []
    held = ["bag_frames"] if encoder.cfg.vocab and encoder.cfg.bag_phases > 1 else []
    pooled = ["bag_sum", "bag_weight", *held] if encoder.cfg.vocab else ["pool_max", "pool_sum", "pool_acc"]
    return ["audio_tail", *norm, *caches, *pooled]


def write_atomic(out: str | Path, data: bytes) -> int:
    """Write `data` to a temporary name beside `out`, then rename it into place; returns the size in bytes."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    tmp.replace(out)
    return len(data)
