"""Distillation on real TTS speech and real teacher targets: a run stopped by its time budget resumes where it left off;
a run from an earlier student fine-tunes it."""

import pytest
import torch

from s2r_edge.errors import S2RError
from s2r_edge.model import ModelConfig, load_checkpoint
from s2r_edge.synth import SynthConfig, synthesize
from s2r_edge.teacher import embed_texts
from s2r_edge.train import TrainConfig, train

TEXTS = ["turn on the torch", "call mum on speaker", "how long do i boil an egg", "open my shopping list",
         "what is the weather like tomorrow", "play something relaxing"]


def test_a_run_stopped_by_its_time_budget_resumes_and_finishes(tmp_path, capsys):
    data = synthesize(TEXTS, SynthConfig(voices=("espeak:en-us", "flite:slt"), voices_per_text=2),
                      embed_texts(TEXTS), progress=False)
    data.save(tmp_path / "d.npz")
    out, resume = tmp_path / "student.pt", tmp_path / "student.resume.pt"
    cfg = TrainConfig(epochs=2, batch_size=4, dev_fraction=0.2, device="cpu")
    small = ModelConfig(dim=32, dilations=(1, 2))

    assert train(tmp_path / "d.npz", out, cfg, small, time_budget_s=0) is None
    assert "time budget spent after epoch 1/2" in capsys.readouterr().out
    assert resume.is_file() and not out.exists()
    after_one = load_checkpoint(resume)[0].state_dict()

    encoder = train(tmp_path / "d.npz", out, cfg, small)
    assert "after epoch 1" in capsys.readouterr().out
    assert out.is_file() and not resume.exists()
    final, ckpt = load_checkpoint(out)
    assert final.cfg.dim == 32 and ckpt["train_config"]["epochs"] == 2
    assert -1 <= ckpt["dev_cos"] <= 1  # the last epoch's dev cosine travels with the student
    assert any(not torch.equal(after_one[k], v) for k, v in final.state_dict().items())  # epoch 2 ran
    assert encoder is not None and torch.isfinite(final.step(torch.zeros(1, 2560), *final.initial_state())[0]).all()


def test_fine_tuning_starts_from_the_given_student_and_a_garbage_one_is_refused(tmp_path):
    data = synthesize(TEXTS, SynthConfig(voices=("espeak:en-us",)), embed_texts(TEXTS), progress=False)
    data.save(tmp_path / "d.npz")
    cfg = TrainConfig(epochs=1, batch_size=3, dev_fraction=0.2, device="cpu")
    start = train(tmp_path / "d.npz", tmp_path / "start.pt", cfg, ModelConfig(dim=32, dilations=(1, 2)))

    tuned = train(tmp_path / "d.npz", tmp_path / "tuned.pt", cfg, ModelConfig(dim=48), init=tmp_path / "start.pt")
    assert tuned is not None and tuned.cfg.dim == 32  # the student's own size, not model_cfg's
    assert torch.equal(tuned.frontend.mean, start.frontend.mean)  # its log-mel statistics are kept
    assert any(not torch.equal(v, start.state_dict()[k]) for k, v in tuned.state_dict().items())

    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(S2RError, match="junk.pt: not a usable s2r-edge checkpoint"):
        train(tmp_path / "d.npz", tmp_path / "again.pt", cfg, init=tmp_path / "junk.pt")
    assert not (tmp_path / "again.pt").exists()
