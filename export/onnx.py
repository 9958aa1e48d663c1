"""Lower the student's `step` to ONNX (opset 17) for ONNX Runtime; metadata goes in the model's metadata_props.

Uses the TorchScript exporter (`dynamo=False`): the torch.export-based one needs onnxscript, which is not a
dependency, and the traced graph of `step` has no data-dependent control flow, so both give the same program.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch

from s2r_edge.export import example_inputs, model_metadata, state_names, write_atomic
from s2r_edge.model import StepModule, StreamingEncoder

OPSET = 17


def export_onnx(encoder: StreamingEncoder, out: str | Path) -> int:
    """Write `encoder.step` as an ONNX model (inputs `chunk`, state...; outputs `embedding`, new state...); returns its size."""
    names = state_names(encoder)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # "legacy TorchScript-based ONNX export"
        torch.onnx.export(
            StepModule(encoder.eval()),
            example_inputs(encoder),
            buf,
            dynamo=False,
            opset_version=OPSET,
            input_names=["chunk", *names],
            output_names=["embedding", *(f"new_{n}" for n in names)],
        )
    model = onnx.load_from_string(buf.getvalue())
    for key, value in model_metadata(encoder).items():
        model.metadata_props.add(key=key, value=str(value))
    onnx.checker.check_model(model)
    return write_atomic(out, model.SerializeToString())


class OnnxEncoder:
    """The ONNX model through ONNX Runtime, stepped like `PteEncoder` (for parity checks and ONNX users)."""

    def __init__(self, path: str | Path, threads: int = 1) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads  # spinning pool threads stall a busy machine; 1 matches the .pte
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = self.session.get_inputs()
        self.metadata = self.session.get_modelmeta().custom_metadata_map

    def initial_state(self) -> list[np.ndarray]:
        return [np.zeros(i.shape, dtype=np.float32) for i in self.inputs[1:]]

    def step(self, chunk: np.ndarray, state: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """One chunk (chunk_samples,) float32 -> (embedding (emb_dim,), new state)."""
        out = self.session.run(None, {i.name: x for i, x in zip(self.inputs, [chunk.reshape(1, -1), *state])})
        return out[0].reshape(-1), out[1:]
