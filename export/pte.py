"""Lower the student's `step` to ExecuTorch: PT2E static int8 (XNNPACKQuantizer) or fp32, XNNPACK-delegated.

The Linear layers (nearly all the weights) are int8, per-channel, calibrated on training-voice speech; the
log-mel front end, depthwise convs and pooling stay fp32 (cheap, and where precision matters most).
Metadata travels inside the program as constant methods (`sample_rate`, `chunk_samples`, `emb_dim`,
`model_version`, `teacher`; strings as uint8 tensors of their bytes).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from s2r_edge.audio import pad_to_chunks
from s2r_edge.model import StepModule, StreamingEncoder


def metadata(encoder: StreamingEncoder) -> dict[str, object]:
    cfg = encoder.cfg
    as_bytes = lambda s: torch.tensor(list(s.encode()), dtype=torch.uint8)  # noqa: E731
    return {
        "sample_rate": cfg.sample_rate,
        "chunk_samples": cfg.chunk_samples,
        "emb_dim": cfg.emb_dim,
        "model_version": as_bytes(cfg.version),
        "teacher": as_bytes(cfg.teacher),
    }


def _example(encoder: StreamingEncoder) -> tuple[torch.Tensor, ...]:
    return (torch.zeros(1, encoder.cfg.chunk_samples), *encoder.initial_state())


def quantize(encoder: StreamingEncoder, calibration: list[np.ndarray]) -> torch.nn.Module:
    """PT2E int8: export `step`, insert observers on Linear layers, run calibration utterances, convert."""
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    if not calibration:
        raise ValueError("int8 export needs calibration audio")
    graph = torch.export.export(StepModule(encoder).eval(), _example(encoder)).module()
    quantizer = XNNPACKQuantizer().set_module_type(
        torch.nn.Linear, get_symmetric_quantization_config(is_per_channel=True)
    )
    prepared = prepare_pt2e(graph, quantizer)
    n = encoder.cfg.chunk_samples
    with torch.no_grad():
        for wav in tqdm(calibration, desc="calibrate"):
            state = encoder.initial_state()
            padded = torch.from_numpy(pad_to_chunks(wav, n))
            for start in range(0, len(padded), n):
                out = prepared(padded[None, start : start + n], *state)
                state = list(out[1:])
    return convert_pt2e(prepared)


def export_pte(encoder: StreamingEncoder, out: str | Path, calibration: list[np.ndarray] | None = None) -> int:
    """Write an XNNPACK-delegated .pte of `encoder.step` (int8 when `calibration` is given); returns its size."""
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    encoder = encoder.eval()
    module = quantize(encoder, calibration) if calibration else StepModule(encoder).eval()
    program = to_edge_transform_and_lower(
        torch.export.export(module, _example(encoder)),
        partitioner=[XnnpackPartitioner()],
        constant_methods=metadata(encoder),
    ).to_executorch()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    tmp.write_bytes(program.buffer)
    tmp.replace(out)
    return out.stat().st_size
