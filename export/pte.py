"""Lower the student's `step` to ExecuTorch: PT2E int8 (XNNPACKQuantizer) or fp32, XNNPACK-delegated.

The shipped int8 program quantizes every Linear layer with per-channel int8 weights and dynamically
quantized activations (XNNPACK's qd8-f32-qc8w kernels); the log-mel front end, depthwise convs and pooling
stay fp32. Static int8 (activation ranges measured with histogram observers on 240 training-text utterances
by all training voices) stays available as `static_speech=` for comparison but is not shipped: it lost on every
count, measured over 240 held-out demo queries spoken by two training voices (`benchmarks/export_report.py`, RESULTS.md):
dynamic mean/min cosine to eager 0.99994/0.99988; static on the blocks' feed-forward layers only (input,
pooling-score and projection layers fp32) 0.98996/0.95439, 1.24x the dynamic step time (1.78 vs 1.44 ms,
interleaved); static on all Linear layers (a one-off run of the same recipe) 0.98724/0.94571 at 0.95 vs
0.78 ms. Static misses the issue's mean >= 0.99, its worst utterance is far off (0.954 against 0.9999), and
its extra quantize/dequantize nodes make each step slower, so dynamic ships. A bag head's table serves two products,
which become two Linear layers for export (`WordBag.as_linears`), int8 as the others: an int4 gather (groups of 32)
fitted a larger table into 5 MB but moved the vector by up to 0.02 in cosine (RESULTS, "Where the int8 parity goes").
Metadata travels inside the program as constant methods (`sample_rate`, `chunk_samples`, `emb_dim`,
`model_version`, `teacher`; strings as uint8 tensors of their bytes).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from s2r_edge.audio import pad_to_chunks
from s2r_edge.export import example_inputs, model_metadata, write_atomic
from s2r_edge.model import StepModule, StreamingEncoder

def metadata(encoder: StreamingEncoder) -> dict[str, object]:
    """`model_metadata` as constant-method values: ints stay ints, strings become uint8 tensors of their bytes."""
    as_bytes = lambda s: torch.tensor(list(s.encode()), dtype=torch.uint8)  # noqa: E731
    return {k: as_bytes(v) if isinstance(v, str) else v for k, v in model_metadata(encoder).items()}


def _calibrate(prepared: torch.nn.Module, encoder: StreamingEncoder, speech: Sequence[np.ndarray]) -> None:
    """Stream each utterance chunk by chunk through the observed graph, as the device will."""
    n = encoder.cfg.chunk_samples
    with torch.no_grad():
        for wav in speech:
            state, wav = encoder.initial_state(), pad_to_chunks(wav, n)
            for start in range(0, len(wav), n):
                state = list(prepared(torch.from_numpy(wav[None, start : start + n]), *state)[1:])


def quantize(encoder: StreamingEncoder, static_speech: Sequence[np.ndarray] | None = None) -> torch.nn.Module:
    """PT2E int8 of `step`: dynamic int8 Linear layers, or static int8 feed-forward layers calibrated on
    `static_speech`."""
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    example = example_inputs(encoder)
    quantizer = XNNPACKQuantizer()
    graph = torch.export.export(StepModule(encoder).eval(), example).module()
    if static_speech is None:
        config = get_symmetric_quantization_config(is_per_channel=True, is_dynamic=True)
        for name, layer in encoder.named_modules():
            if isinstance(layer, torch.nn.Linear):
                quantizer.set_module_name(f"encoder.{name}", config)
    else:
        config = get_symmetric_quantization_config(is_per_channel=True, is_dynamic=False)
        for i, block in enumerate(encoder.blocks):
            for j, layer in enumerate(block.ff):
                if isinstance(layer, torch.nn.Linear):
                    quantizer.set_module_name(f"encoder.blocks.{i}.ff.{j}", config)  # the better static recipe
    prepared = prepare_pt2e(graph, quantizer)
    if static_speech is None:
        with torch.no_grad():
            prepared(*example)
    else:
        _calibrate(prepared, encoder, static_speech)
    return convert_pt2e(prepared)


def export_pte(
    encoder: StreamingEncoder, out: str | Path, int8: bool = True, static_speech: Sequence[np.ndarray] | None = None
) -> int:
    """Write an XNNPACK-delegated .pte of `encoder.step` (int8 unless `int8=False`; static int8 when calibration
    speech is given); returns its size in bytes."""
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    encoder = encoder.eval()
    if encoder.cfg.vocab:  # a bag head's table products as Linear layers, on a copy
        encoder = copy.deepcopy(encoder)
        encoder.head.as_linears()
    module = quantize(encoder, static_speech) if int8 else StepModule(encoder).eval()
    program = to_edge_transform_and_lower(
        torch.export.export(module, example_inputs(encoder)),
        partitioner=[XnnpackPartitioner()],
        constant_methods=metadata(encoder),
    ).to_executorch()
    return write_atomic(out, program.buffer)
