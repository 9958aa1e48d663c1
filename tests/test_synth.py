"""Training data: real TTS into a dataset; a missing voice or an empty text file stops before any work; the neural
Kokoro voices speak English that PocketSphinx understands."""

import numpy as np
import pytest

from s2r_edge.audio import load_audio
from s2r_edge.cascade import transcribe
from s2r_edge.errors import S2RError
from s2r_edge.synth import SpeechSet, SynthConfig, load_targets, synthesize, write_targets
from s2r_edge.texts import read_queries
from s2r_edge.voices import KOKORO_VOICES, Voice
from tests.test_cli import cli


def test_targets_file_keeps_each_vector_within_a_cosine_of_0_9999(tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(50, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    write_targets([f"text {i}" for i in range(50)], vectors, tmp_path / "t.npz")
    texts, back = load_targets(tmp_path / "t.npz")
    assert texts[7] == "text 7" and back.dtype == np.float16
    cos = (back * vectors).sum(1) / np.linalg.norm(back.astype(np.float32), axis=1)
    assert cos.min() > 0.9999
    np.savez_compressed(tmp_path / "old.npz", texts=np.array(["a", "b"]), targets=vectors[:2].astype(np.float16))
    assert np.array_equal(load_targets(tmp_path / "old.npz")[1], vectors[:2].astype(np.float16))  # float16, as before
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(S2RError, match="not a texts-and-targets file"):
        load_targets(tmp_path / "bad.npz")


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


def test_kokoro_voice_speaks_english():
    wav = Voice.parse("kokoro:jm_kumo").speak("open the camera app")
    assert wav.dtype == np.float32 and wav.ndim == 1 and 0.6 < len(wav) / 16000 < 3 and np.std(wav) > 0.02
    assert "camera" in transcribe(wav)[0]


def test_kokoro_speed_changes_duration_and_pitch_keeps_it():
    voice = Voice.parse("kokoro:jf_gongitsune+jm_kumo")  # a 50/50 mix of two voices' styles
    slow, fast = (len(voice.speak("call home", speed=s)) for s in (0.8, 1.3))
    assert fast < 0.8 * slow
    high = len(voice.speak("call home", speed=1.3, pitch=1.25))
    assert abs(high - fast) < 0.1 * fast


def test_kokoro_mix_weights_its_styles():
    text = "call home"
    even, same, leaning = (Voice.parse(f"kokoro:{v}").speak(text) for v in
                           ("jf_nezumi+jm_kumo", "jf_nezumi*2+jm_kumo*2", "jf_nezumi+jm_kumo*4"))
    assert np.array_equal(even, same)  # only the ratio counts
    assert not np.array_equal(even, leaning)


def test_unknown_kokoro_voice_names_it_and_the_real_ones():
    for spec in ("kokoro:nobody", "kokoro:jm_kumo+nobody", "kokoro:nobody*2+jm_kumo"):
        with pytest.raises(S2RError, match=r"Kokoro has no voice 'nobody' \(its voices: .*jm_kumo"):
            Voice.parse(spec)
    for spec in ("kokoro:jm_kumo*0+jf_nezumi", "kokoro:jm_kumo*-1", "kokoro:jm_kumo*x", "kokoro:jm_kumo*"):
        with pytest.raises(S2RError, match=r"weight of 'jm_kumo' must be a positive number"):
            Voice.parse(spec)
    assert [Voice.parse(v).spec for v in KOKORO_VOICES] == list(KOKORO_VOICES)


def test_datasets_concatenate_sharing_the_texts_they_have_in_common():
    a = synthesize(["turn on the torch", "call mum"], SynthConfig(voices=("espeak:en-us",)),
                   np.eye(2, 384, dtype=np.float16), progress=False)
    b = synthesize(["call mum", "open my list"], SynthConfig(voices=("flite:slt",)),
                   np.eye(2, 384, 5, dtype=np.float16), progress=False)
    both = SpeechSet.concat([a, b])
    assert list(both.texts) == ["turn on the torch", "call mum", "open my list"] and len(both) == 4
    assert [both.text(i) for i in range(4)] == [a.text(0), a.text(1), b.text(0), b.text(1)]
    assert np.array_equal(both.wav(3), b.wav(1)) and np.array_equal(both.wav(1), a.wav(1))
    assert np.array_equal(both.targets[1], a.targets[1])  # a shared text keeps its first set's target
    assert list(both.voices) == [*a.voices, *b.voices]
