"""`s2r-edge export` from the committed checkpoint: int8 and fp32 .pte and ONNX, each streamed chunk by chunk
and compared with the eager full-utterance forward on 240 held-out query utterances spoken by training voices."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from s2r_edge.audio import pad_to_chunks
from s2r_edge.cli import main
from s2r_edge.export.calibrate import parity_speech
from s2r_edge.export.onnx import OnnxEncoder
from s2r_edge.export.parity import cosines, eager_embeddings, streamed
from s2r_edge.runtime import PteEncoder
from tests.conftest import CHECKPOINT

PROGRAMS = ("encoder_int8.pte", "encoder_fp32.pte", "encoder.onnx")


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[dict[str, Path], str]:
    """The three programs, written once by `s2r-edge export`, and what the command printed."""
    out = tmp_path_factory.mktemp("export")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["export", "--checkpoint", str(CHECKPOINT), "--out-dir", str(out)]) == 0
    return {name: out / name for name in PROGRAMS}, printed.getvalue()


@pytest.fixture(scope="module")
def programs(exported) -> dict[str, Path]:
    return exported[0]


@pytest.fixture(scope="module")
def parity(eager) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """240 utterances and the eager model's full-utterance embedding of each."""
    speech = parity_speech()
    return speech, eager_embeddings(eager, speech)


def load(path: Path) -> PteEncoder | OnnxEncoder:
    return OnnxEncoder(path) if path.suffix == ".onnx" else PteEncoder(path)


def test_export_writes_three_programs_with_their_metadata(exported, eager):
    programs, printed = exported
    for path in programs.values():
        assert f"{path}: {path.stat().st_size / 1e6:.2f} MB" in printed
    assert programs["encoder_int8.pte"].stat().st_size < 0.5 * programs["encoder_fp32.pte"].stat().st_size
    cfg = eager.cfg
    expected = {"sample_rate": 16000, "chunk_samples": cfg.chunk_samples, "emb_dim": 384,
                "model_version": cfg.version, "teacher": "all-MiniLM-L6-v2"}
    for name in ("encoder_int8.pte", "encoder_fp32.pte"):
        info = PteEncoder(programs[name]).info
        assert {k: getattr(info, k) for k in expected} == expected
    model = onnx.load(programs["encoder.onnx"])
    assert {p.key: p.value for p in model.metadata_props} == {k: str(v) for k, v in expected.items()}
    assert model.opset_import[0].version >= 17


@pytest.mark.parametrize("name", ["encoder_fp32.pte", "encoder.onnx"])
def test_fp32_programs_equal_eager_on_every_utterance(programs, parity, eager, name):
    cos = cosines(load(programs[name]), *parity, eager.cfg.chunk_samples)
    assert len(cos) >= 200
    assert cos.min() >= 0.9999, (cos.min(), cos.mean())


def test_int8_program_agrees_with_eager_on_average(programs, parity, eager):
    cos = cosines(load(programs["encoder_int8.pte"]), *parity, eager.cfg.chunk_samples)
    assert len(cos) >= 200
    assert cos.mean() >= 0.99, (cos.min(), cos.mean())
    assert cos.min() >= 0.98, (cos.min(), cos.mean())  # and no utterance far off


@pytest.fixture(scope="module")
def prefixes(parity, eager) -> list[tuple[np.ndarray, np.ndarray]]:
    """Six utterances, each with the eager full-utterance embedding of its first 1, 2, ... chunks (one batched
    forward: row i is the utterance masked after i + 1 chunks, which equals the forward of that prefix)."""
    n, out = eager.cfg.chunk_samples, []
    for wav in parity[0][::40]:
        wav = pad_to_chunks(wav, n)
        k = len(wav) // n
        with torch.no_grad():
            full, _ = eager(torch.from_numpy(np.tile(wav, (k, 1))), lengths=torch.arange(1, k + 1) * n)
        out.append((wav, full.numpy()))
    return out


@pytest.mark.parametrize("name,tolerance", [("encoder_int8.pte", 0.99), ("encoder_fp32.pte", 0.9999), ("encoder.onnx", 0.9999)])
def test_every_partial_result_equals_the_eager_forward_of_that_prefix(programs, prefixes, eager, name, tolerance):
    """Chunked vs full utterance: after chunk i the program's vector is the eager vector of the first i chunks."""
    program = load(programs[name])
    for wav, full in prefixes:
        partials = streamed(program, wav, eager.cfg.chunk_samples)
        assert len(partials) == len(full)
        assert min(float(np.dot(p, f)) for p, f in zip(partials, full)) >= tolerance


def test_a_bag_student_exports_its_table_as_two_quantized_layers_and_streams_as_eager(tmp_path, parity):
    from s2r_edge.export.pte import export_pte
    from s2r_edge.model import ModelConfig, StreamingEncoder

    torch.manual_seed(0)
    bag = StreamingEncoder(ModelConfig(dim=32, dilations=(1, 2), vocab=4000, bag_dim=32, bag_phases=2)).eval()
    speech = parity[0][:: 40]
    reference = eager_embeddings(bag, speech)
    sizes = {name: export_pte(bag, tmp_path / f"{name}.pte", int8=name == "int8") for name in ("int8", "fp32")}
    export_pte(bag, tmp_path / "static.pte", static_speech=speech[:2])  # XNNPACK once refused its pad op at load
    assert PteEncoder(tmp_path / "static.pte").state_shapes == bag.state_shapes()
    assert sizes["fp32"] - sizes["int8"] >= 0.75 * bag.head.table.numel() * 2 * 3  # two copies, 4 bytes -> 1
    assert cosines(PteEncoder(tmp_path / "fp32.pte"), speech, reference, bag.cfg.chunk_samples).min() >= 0.9999
    assert cosines(PteEncoder(tmp_path / "int8.pte"), speech, reference, bag.cfg.chunk_samples).min() >= 0.99
    assert bag.head.scorer is None and bag.head.table.numel() == 4001 * 32  # export changed a copy, not the student


def test_a_student_with_a_running_mean_norm_exports_its_state_and_streams_as_eager(tmp_path, parity):
    from s2r_edge.export import state_names
    from s2r_edge.export.onnx import export_onnx
    from s2r_edge.export.pte import export_pte
    from s2r_edge.model import ModelConfig, StreamingEncoder

    torch.manual_seed(0)
    student = StreamingEncoder(ModelConfig(dim=32, dilations=(1, 2), mean_norm=50.0)).eval()
    speech = parity[0][:: 40]
    reference = eager_embeddings(student, speech)
    for name in ("int8", "fp32"):
        export_pte(student, tmp_path / f"{name}.pte", int8=name == "int8")
    export_onnx(student, tmp_path / "s.onnx")
    assert PteEncoder(tmp_path / "int8.pte").state_shapes == student.state_shapes()
    assert state_names(student)[:3] == ["audio_tail", "mel_sum", "mel_weight"]
    assert cosines(PteEncoder(tmp_path / "fp32.pte"), speech, reference, student.cfg.chunk_samples).min() >= 0.9999
    assert cosines(OnnxEncoder(tmp_path / "s.onnx"), speech, reference, student.cfg.chunk_samples).min() >= 0.9999
    assert cosines(PteEncoder(tmp_path / "int8.pte"), speech, reference, student.cfg.chunk_samples).min() >= 0.99
