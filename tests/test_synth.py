"""Training data: real TTS into a dataset; a missing voice or an empty text file stops before any work."""

import numpy as np

from s2r_edge.audio import load_audio
from s2r_edge.synth import SpeechSet, SynthConfig, synthesize
from s2r_edge.texts import read_queries
from tests.test_cli import cli


def test_texts_become_speech_with_their_targets(tmp_path):
    targets = np.eye(3, 384, dtype=np.float32)
    data = synthesize(["turn on the torch", "call mum", "- a line starting with a dash"],
                      SynthConfig(voices=("espeak:en-us", "flite:slt"), voices_per_text=2), targets, progress=False)
    assert len(data) == 6 and sorted(set(data.voices)) == ["espeak:en-us", "flite:slt"]
    data.save(tmp_path / "d.npz")
    back = SpeechSet.load(tmp_path / "d.npz")
    assert back.text(0) == "turn on the torch" and 0.2 < len(back.wav(0)) / 16000 < 5
    assert np.allclose(back.targets[back.text_ids[0]], targets[0], atol=1e-3)


def test_unknown_voice_is_refused_before_any_work(tmp_path):
    run = cli("synth", "--out", str(tmp_path / "d.npz"), "--voices", "espeak:en-us,flite:nobody")
    assert run.returncode == 1 and "flite has no voice 'nobody'" in run.stderr
    assert not (tmp_path / "d.npz").exists()


def test_text_file_without_usable_lines_is_refused(tmp_path):
    empty = tmp_path / "t.txt"
    empty.write_text("\n  \n")
    run = cli("synth", "--out", str(tmp_path / "d.npz"), "--texts", str(empty))
    assert run.returncode == 1 and "no usable lines" in run.stderr


def test_spoken_queries_under_a_condition_keep_their_labels(tmp_path):
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"text": "turn on the torch", "relevant": ["settings-001"]}\n'
                       '{"text": "play some jazz", "relevant": ["media-001"]}\n')
    run = cli("synth", "--queries", str(queries), "--voice", "espeak:en-us", "--out-dir", str(tmp_path / "noisy"),
              "--condition", "white@5")
    assert run.returncode == 0, run.stderr
    spoken = read_queries(tmp_path / "noisy" / "queries.jsonl")
    assert [(q.text, q.relevant) for q in spoken] == [("turn on the torch", ("settings-001",)), ("play some jazz", ("media-001",))]
    assert all(np.std(load_audio(q.audio)) > 0.01 for q in spoken)
    bad = cli("synth", "--queries", str(queries), "--voice", "espeak:en-us", "--out-dir", str(tmp_path / "x"),
              "--condition", "white")
    assert bad.returncode == 1 and "unknown condition 'white'" in bad.stderr and not (tmp_path / "x").exists()
