"""Endpointing on real TTS speech: one utterance per query, pauses bridged by the hangover, silence never a query."""

import numpy as np
import pytest

from s2r_edge.endpoint import EnergyVad, PushToTalk, VadConfig
from s2r_edge.errors import S2RError

RATE = 16000


def quiet(seconds: float, db: float | None = None, seed: int = 0) -> np.ndarray:
    """Digital silence, or white noise at `db` dBFS RMS (a room heard through a microphone)."""
    n = int(seconds * RATE)
    if db is None:
        return np.zeros(n, dtype=np.float32)
    return (np.random.default_rng(seed).standard_normal(n) * 10 ** (db / 20)).astype(np.float32)


def boundaries(vad, audio: np.ndarray, block: int = 441):
    """Feed in odd-sized blocks, as a capture callback would."""
    out = []
    for start in range(0, len(audio), block):
        out += vad.feed(audio[start : start + block])
    return out


@pytest.mark.parametrize("noise_db", [None, -60.0])
def test_one_query_gives_one_start_and_one_end_near_the_speech(speech, noise_db):
    lead, tail = quiet(1.0, noise_db), quiet(1.5, noise_db, seed=1)
    audio = np.concatenate([lead, speech[0] + quiet(len(speech[0]) / RATE, noise_db, seed=2), tail])
    cfg = VadConfig()
    found = boundaries(EnergyVad(cfg), audio)
    assert [b.kind for b in found] == ["start", "end"]
    start, end = found
    voiced = np.flatnonzero(np.abs(speech[0]) > 0.01)
    speech_start, speech_end = len(lead) + voiced[0], len(lead) + voiced[-1]
    assert abs(start.edge - speech_start) < 0.15 * RATE
    assert abs(end.edge - speech_end) < 0.15 * RATE
    assert end.at - end.edge == cfg.hangover_ms * RATE // 1000  # decided after exactly the hangover
    assert start.at - start.edge == cfg.start_ms * RATE // 1000


@pytest.mark.parametrize("noise_db", [None, -60.0, -35.0])
def test_long_silence_or_steady_noise_is_never_a_query(noise_db):
    assert boundaries(EnergyVad(), quiet(30.0, noise_db)) == []


def trimmed(samples: np.ndarray) -> np.ndarray:
    """The speech without the TTS engine's own leading and trailing silence."""
    voiced = np.flatnonzero(np.abs(samples) > 0.01)
    return samples[voiced[0] : voiced[-1] + 1]


def test_a_pause_shorter_than_the_hangover_keeps_one_utterance(speech):
    cfg = VadConfig(hangover_ms=500)
    first, second = trimmed(speech[1]), trimmed(speech[2])
    short = np.concatenate([quiet(0.5), first, quiet(0.3), second, quiet(1.0)])
    long = np.concatenate([quiet(0.5), first, quiet(1.0), second, quiet(1.0)])
    assert [b.kind for b in boundaries(EnergyVad(cfg), short)] == ["start", "end"]
    assert [b.kind for b in boundaries(EnergyVad(cfg), long)] == ["start", "end", "start", "end"]


def test_endless_speech_is_cut_at_the_maximum_length(speech):
    cfg = VadConfig(max_utterance_s=1.0)
    found = boundaries(EnergyVad(cfg), np.concatenate([quiet(0.5), speech[3]]))
    first_end = next(b for b in found if b.kind == "end")
    assert first_end.at - found[0].edge == pytest.approx(cfg.max_utterance_s * RATE, abs=cfg.frame_ms * RATE // 1000)


def test_push_to_talk_marks_where_the_user_pressed():
    ptt = PushToTalk()
    assert ptt.feed(np.zeros(1000)) == []
    ptt.toggle()
    (start,) = ptt.feed(np.zeros(500))
    assert (start.kind, start.at) == ("start", 1000)
    ptt.toggle()
    (end,) = ptt.feed(np.zeros(500))
    assert (end.kind, end.at, end.edge) == ("end", 1500, 1500)


@pytest.mark.parametrize("kwargs", [{"hangover_ms": 0}, {"frame_ms": 0}, {"start_ms": 10}, {"max_utterance_s": 0.05}])
def test_impossible_vad_settings_are_refused(kwargs):
    with pytest.raises(S2RError):
        VadConfig(**kwargs)
