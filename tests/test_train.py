"""Distillation on real TTS speech and real teacher targets: a run stopped by its time budget or killed resumes where it
left off, exactly; a run from an earlier student fine-tunes it; the retrieval term pulls spoken known queries to their
docs; reading lessons teach the upper blocks from texts without audio."""

import signal
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np
import pytest
import torch

from s2r_edge.errors import S2RError
from s2r_edge.losses import DocTargets
from s2r_edge.model import ModelConfig, load_checkpoint
from s2r_edge.synth import SynthConfig, synthesize, write_targets
from s2r_edge.teacher import embed_texts
from s2r_edge.train import TrainConfig, train

TEXTS = ["turn on the torch", "call mum on speaker", "how long do i boil an egg", "open my shopping list",
         "what is the weather like tomorrow", "play something relaxing"]


def test_a_run_stopped_by_its_time_budget_resumes_where_it_stopped(tmp_path, capsys):
    data = synthesize(TEXTS, SynthConfig(voices=("espeak:en-us", "flite:slt"), voices_per_text=2),
                      embed_texts(TEXTS), progress=False)
    data.save(tmp_path / "d.npz")
    out, resume = tmp_path / "student.pt", tmp_path / "student.resume.pt"
    cfg = TrainConfig(epochs=2, batch_size=4, dev_fraction=0.2, device="cpu")  # dropout and SpecAugment on
    small = ModelConfig(dim=32, dilations=(1, 2))

    assert train(tmp_path / "d.npz", out, cfg, small, time_budget_s=0) is None
    assert "time budget spent at step 1/3 of epoch 1/2" in capsys.readouterr().out
    assert resume.is_file() and not out.exists()
    after_one = load_checkpoint(resume)[0].state_dict()

    encoder = train(tmp_path / "d.npz", out, cfg, small)
    assert "resuming from" in capsys.readouterr().out
    assert out.is_file() and not resume.exists()
    final, ckpt = load_checkpoint(out)
    assert final.cfg.dim == 32 and ckpt["train_config"]["epochs"] == 2
    assert -1 <= ckpt["dev_cos"] <= 1  # the last epoch's dev cosine travels with the student
    assert any(not torch.equal(after_one[k], v) for k, v in final.state_dict().items())  # the rest ran
    assert encoder is not None and torch.isfinite(final.step(torch.zeros(1, 2560), *final.initial_state())[0]).all()

    train(tmp_path / "d.npz", tmp_path / "whole.pt", cfg, small)  # the same run, never stopped
    whole = load_checkpoint(tmp_path / "whole.pt")[0].state_dict()
    assert all(torch.equal(whole[k], v) for k, v in final.state_dict().items())


def test_a_killed_run_resumes_from_its_last_checkpoint_within_the_epoch(tmp_path):
    data = synthesize(TEXTS, SynthConfig(voices=("espeak:en-us", "flite:slt"), voices_per_text=2),
                      embed_texts(TEXTS), progress=False)
    data.save(tmp_path / "d.npz")
    args = [sys.executable, "-m", "s2r_edge.cli", "train", "--data", str(tmp_path / "d.npz"), "--epochs", "2",
            "--batch-size", "1", "--dim", "32", "--seed", "3", "--checkpoint-minutes", "0"]
    run = subprocess.Popen(args + ["--out", str(tmp_path / "s.pt")], stdout=subprocess.DEVNULL)
    resume = tmp_path / "s.resume.pt"
    while not resume.is_file() and run.poll() is None:
        time.sleep(0.05)
    run.kill()  # within the first epoch: its checkpoint is after the first steps, before any epoch's end
    assert run.wait() == -signal.SIGKILL and not (tmp_path / "s.pt").exists()
    saved = torch.load(resume, weights_only=False)
    assert saved["step"] >= 1

    again = subprocess.run(args + ["--out", str(tmp_path / "s.pt")], capture_output=True, text=True, check=True)
    assert f"resuming from {resume} at epoch {saved['epoch'] + 2}, step {saved['step']}" in again.stdout
    subprocess.run(args + ["--out", str(tmp_path / "whole.pt")], capture_output=True, check=True)
    resumed, whole = (load_checkpoint(tmp_path / f)[0].state_dict() for f in ("s.pt", "whole.pt"))
    assert all(torch.equal(whole[k], v) for k, v in resumed.items())


def test_a_run_of_exactly_ten_steps_trains(tmp_path):
    # torch's OneCycleLR would divide by zero at 10% warm-up of 10 steps (the default 10 epochs on a tiny set)
    data = synthesize(TEXTS[:3], SynthConfig(voices=("espeak:en-us",)), embed_texts(TEXTS[:3]), progress=False)
    data.save(tmp_path / "d.npz")
    cfg = TrainConfig(epochs=10, batch_size=48, dev_fraction=0.2, device="cpu")
    assert train(tmp_path / "d.npz", tmp_path / "s.pt", cfg, ModelConfig(dim=32, dilations=(1, 2))) is not None


def test_fine_tuning_starts_from_the_given_student_and_a_garbage_one_is_refused(tmp_path):
    data = synthesize(TEXTS, SynthConfig(voices=("espeak:en-us",)), embed_texts(TEXTS), progress=False)
    data.save(tmp_path / "d.npz")
    cfg = TrainConfig(epochs=1, batch_size=3, dev_fraction=0.2, device="cpu")
    start = train(tmp_path / "d.npz", tmp_path / "start.pt", cfg, ModelConfig(dim=32, dilations=(1, 2)))

    tuned = train(tmp_path / "d.npz", tmp_path / "tuned.pt", cfg, ModelConfig(dim=48), init=tmp_path / "start.pt")
    assert tuned is not None and tuned.cfg.dim == 32  # the student's own size, not model_cfg's
    assert torch.equal(tuned.frontend.mean, start.frontend.mean)  # its log-mel statistics are kept
    assert any(not torch.equal(v, start.state_dict()[k]) for k, v in tuned.state_dict().items())

    with pytest.raises(S2RError, match="keeps its front end"):  # a fine-tune cannot change how its student hears
        train(tmp_path / "d.npz", tmp_path / "again.pt", cfg, ModelConfig(mean_norm=50.0), init=tmp_path / "start.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(S2RError, match="junk.pt: not a usable s2r-edge checkpoint"):
        train(tmp_path / "d.npz", tmp_path / "again.pt", cfg, init=tmp_path / "junk.pt")
    assert not (tmp_path / "again.pt").exists()


def test_a_run_with_the_retrieval_term_needs_spoken_known_queries(tmp_path, capsys, toy_corpus):
    data = synthesize(TEXTS, SynthConfig(voices=("espeak:en-us",)), embed_texts(TEXTS), progress=False)
    data.save(tmp_path / "d.npz")
    docs = DocTargets.load(*toy_corpus)
    cfg = TrainConfig(epochs=1, batch_size=3, dev_fraction=0.2, device="cpu", doc_weight=1.0)
    small = ModelConfig(dim=32, dilations=(1, 2))
    with pytest.raises(S2RError, match="needs the corpus's docs"):
        train(tmp_path / "d.npz", tmp_path / "s.pt", cfg, small)
    assert train(tmp_path / "d.npz", tmp_path / "s.pt", cfg, small, docs=docs) is not None
    assert "retrieval term: " in capsys.readouterr().out

    others = ["open my photos", "set a timer for ten minutes"]
    synthesize(others, SynthConfig(voices=("espeak:en-us",)), embed_texts(others), progress=False).save(tmp_path / "o.npz")
    with pytest.raises(S2RError, match="speaks a known query of the docs: speak the queries"):
        train(tmp_path / "o.npz", tmp_path / "o.pt", cfg, small, docs=docs)
    assert not (tmp_path / "o.pt").exists()


READ = ["where is the nearest chemist", "remind me to water the plants", "what time does the match start",
        "read my last message", "book a table for two tonight", "how far is the airport"]


def test_a_run_with_reading_lessons_trains_resumes_and_refuses_bad_settings(tmp_path, capsys):
    data = synthesize(TEXTS, SynthConfig(voices=("espeak:en-us",)), embed_texts(TEXTS), progress=False)
    data.save(tmp_path / "d.npz")
    write_targets(READ + TEXTS, embed_texts(READ + TEXTS), tmp_path / "read.npz")
    cfg = TrainConfig(epochs=2, batch_size=3, dev_fraction=0.2, device="cpu", read_layer=1, read_batch=4)
    small = ModelConfig(dim=32, dilations=(1, 2))

    assert train(tmp_path / "d.npz", tmp_path / "s.pt", cfg, small, time_budget_s=0,
                 read_texts=tmp_path / "read.npz") is None
    assert "reading lessons: 11 texts, 4 a step, entering at block 1" in capsys.readouterr().out  # dev text left out
    with pytest.raises(S2RError, match="s.resume.pt was written with reading lessons: resume it with the same"):
        train(tmp_path / "d.npz", tmp_path / "s.pt", cfg, small)
    assert train(tmp_path / "d.npz", tmp_path / "s.pt", cfg, small, read_texts=tmp_path / "read.npz") is not None
    ckpt = load_checkpoint(tmp_path / "s.pt")[1]
    train(tmp_path / "d.npz", tmp_path / "whole.pt", cfg, small, read_texts=tmp_path / "read.npz")  # never stopped
    whole = load_checkpoint(tmp_path / "whole.pt")[1]  # the same lessons after the resume: the same student
    assert all(torch.equal(whole[part][k], v) for part in ("state_dict", "reading") for k, v in ckpt[part].items())
    assert ckpt["read_texts"] == str(tmp_path / "read.npz") and ckpt["reading"]["chars.weight"].shape == (29, 32)
    again = train(tmp_path / "d.npz", tmp_path / "again.pt", replace(cfg, epochs=1, lr=1e-12),
                  init=tmp_path / "s.pt", read_texts=tmp_path / "read.npz")  # the lessons go on where they ended
    assert again is not None and torch.allclose(load_checkpoint(tmp_path / "again.pt")[1]["reading"]["chars.weight"],
                                                ckpt["reading"]["chars.weight"], atol=1e-6)

    with pytest.raises(S2RError, match="enter at block 2, but the student has blocks 0 to 1"):
        train(tmp_path / "d.npz", tmp_path / "t.pt", TrainConfig(epochs=1, device="cpu", read_layer=2), small,
              read_texts=tmp_path / "read.npz")
    write_targets(["123", "!!"], np.ones((2, 384), dtype=np.float32), tmp_path / "digits.npz")
    with pytest.raises(S2RError, match="digits.npz: no texts to read"):
        train(tmp_path / "d.npz", tmp_path / "t.pt", cfg, small, read_texts=tmp_path / "digits.npz")
    assert not (tmp_path / "t.pt").exists()


def test_a_bag_head_on_an_init_body_or_from_scratch_learns_its_pieces_from_speech_and_lessons(tmp_path, capsys):
    data = synthesize(TEXTS, SynthConfig(voices=("espeak:en-us",)), embed_texts(TEXTS), progress=False)
    data.save(tmp_path / "d.npz")
    write_targets(READ + TEXTS, embed_texts(READ + TEXTS), tmp_path / "read.npz")
    cfg = TrainConfig(epochs=1, batch_size=3, dev_fraction=0.2, device="cpu", read_batch=4)
    start = train(tmp_path / "d.npz", tmp_path / "start.pt", cfg, ModelConfig(dim=32, dilations=(1, 2)))
    capsys.readouterr()

    bag = ModelConfig(vocab=12, bag_dim=16)
    tuned = train(tmp_path / "d.npz", tmp_path / "bag.pt", cfg, bag, init=tmp_path / "start.pt",
                  read_texts=tmp_path / "read.npz")
    out = capsys.readouterr().out
    assert "reading lessons: 11 texts, 4 a step, through the bag head" in out and "bag head: 12 wordpieces" in out
    assert tuned is not None and (tuned.cfg.dim, tuned.cfg.vocab, tuned.cfg.bag_dim) == (32, 12, 16)
    assert not torch.equal(tuned.blocks[0].conv_weight, start.blocks[0].conv_weight)  # the body went on learning
    reloaded = load_checkpoint(tmp_path / "bag.pt")[0]
    assert reloaded.head.token_ids.tolist() == tuned.head.token_ids.tolist() and len(set(tuned.head.token_ids.tolist())) == 12
    emb = reloaded.step(torch.zeros(1, 2560), *reloaded.initial_state())[0]
    assert torch.isfinite(emb).all() and emb.shape == (1, 384)
    with pytest.raises(S2RError, match="bag.pt pools through a bag of 12 wordpieces, fewer than the 20 asked for"):
        train(tmp_path / "d.npz", tmp_path / "other.pt", cfg, replace(bag, vocab=20), init=tmp_path / "bag.pt")
    # no epochs: the bag cut to its 8 commonest pieces and paired both ways, nothing learnt
    cut = train(tmp_path / "d.npz", tmp_path / "cut.pt", replace(cfg, epochs=0), replace(bag, vocab=8, bag_phases=2),
                init=tmp_path / "bag.pt")
    assert cut is not None and (cut.cfg.vocab, cut.cfg.bag_phases) == (8, 2)
    assert cut.head.token_ids.tolist() == tuned.head.token_ids.tolist()[:8]
    assert torch.equal(cut.head.table, reloaded.head.table[:9]) and torch.equal(cut.blocks[0].conv_weight,
                                                                                reloaded.blocks[0].conv_weight)
    assert load_checkpoint(tmp_path / "cut.pt")[0].cfg == cut.cfg
    (tmp_path / "cut.resume.pt").write_bytes(b"an unfinished run")  # no epochs would end it and lose it
    with pytest.raises(S2RError, match="cut.resume.pt holds an unfinished run"):
        train(tmp_path / "d.npz", tmp_path / "cut.pt", replace(cfg, epochs=0), bag, init=tmp_path / "bag.pt")
    assert (tmp_path / "cut.resume.pt").read_bytes() == b"an unfinished run"
    with pytest.raises(S2RError, match="hold 2[0-9] distinct wordpieces, fewer than the 5000 asked for"):
        train(tmp_path / "d.npz", tmp_path / "other.pt", cfg, replace(bag, vocab=5000), init=tmp_path / "start.pt")
    assert not (tmp_path / "other.pt").exists()
    scratch = train(tmp_path / "d.npz", tmp_path / "scratch.pt", replace(cfg, bank=True), replace(bag, dim=32, dilations=(1, 2)),
                    read_texts=tmp_path / "read.npz")  # from scratch: the same vocabulary as on the init body
    assert scratch is not None and sorted(scratch.head.token_ids.tolist()) == sorted(tuned.head.token_ids.tolist())
    # the bank: the 11 lesson texts, which hold the 5 spoken training texts; the dev text in neither
    assert "negative bank: the teacher vectors of 11 training texts" in capsys.readouterr().out
