"""Acoustic conditions on real TTS speech: the SNR asked for is the SNR delivered, rooms ring, bad names refused."""

import numpy as np
import pytest

from s2r_edge.errors import S2RError
from s2r_edge.noise import Condition, babble, band_limit, mix_at_snr, pink_noise, reverberate, white_noise


def snr_db(speech: np.ndarray, mixed: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(speech**2) / np.mean((mixed - speech) ** 2)))


@pytest.mark.parametrize("snr", [20, 10, 5, 0])
def test_noise_is_mixed_at_the_requested_snr(speech, snr):
    rng = np.random.default_rng(0)
    for noise in (white_noise(len(speech[0]), rng), pink_noise(len(speech[0]), rng), babble(len(speech[0]), rng, speech)):
        assert snr_db(speech[0], mix_at_snr(speech[0], noise, snr)) == pytest.approx(snr, abs=0.01)


def test_pink_noise_has_more_energy_low_than_high():
    spec = np.abs(np.fft.rfft(pink_noise(16000, np.random.default_rng(0)))) ** 2
    low, high = spec[100:1000].mean(), spec[6000:7000].mean()  # 100-1000 Hz vs 6-7 kHz
    assert low > 5 * high


def test_babble_is_made_of_the_pool_and_needs_enough_talkers(speech):
    out = babble(32000, np.random.default_rng(1), speech, talkers=4)
    assert out.shape == (32000,) and np.sqrt(np.mean(out**2)) > 1.0  # four unit-RMS talkers summed
    with pytest.raises(S2RError, match="at least 4 utterances"):
        babble(100, np.random.default_rng(0), speech[:3])


def test_reverb_rings_on_after_the_speech_at_the_same_loudness(speech):
    dry = speech[1]
    wet = reverberate(dry, np.random.default_rng(0), rt60_s=0.6)
    assert len(wet) > len(dry)
    assert np.sqrt(np.mean(wet**2)) == pytest.approx(np.sqrt(np.mean(dry**2)), rel=1e-3)
    assert not np.allclose(wet[: len(dry)], dry, atol=1e-2)


def test_conditions_parse_and_apply_reproducibly(speech):
    cond = Condition.parse("babble@10")
    assert (cond.kind, cond.snr_db, cond.name) == ("babble", 10.0, "babble@10")
    a = cond.apply(speech[0], np.random.default_rng(5), speech)
    b = cond.apply(speech[0], np.random.default_rng(5), speech)
    assert np.array_equal(a, b) and np.abs(a).max() <= 1.0
    assert np.array_equal(Condition.parse("clean").apply(speech[0], np.random.default_rng(0)), speech[0])


@pytest.mark.parametrize("name", ["babble", "noise@10", "white@loud", "@5", ""])
def test_unknown_conditions_are_refused(name):
    with pytest.raises(S2RError, match="unknown condition"):
        Condition.parse(name)


def test_band_limiting_removes_what_is_outside_the_band_and_keeps_loudness(speech):
    dry = speech[0]
    narrow = band_limit(dry, 300.0, 3400.0)
    spectrum = lambda x: np.abs(np.fft.rfft(x)) ** 2  # noqa: E731
    freqs = np.fft.rfftfreq(len(dry), 1 / 16000)
    outside = lambda x: spectrum(x)[(freqs > 5000) | (freqs < 100)].sum() / spectrum(x).sum()  # noqa: E731
    assert outside(narrow) < 0.05 * outside(dry)
    assert narrow.dtype == np.float32 and len(narrow) == len(dry)
    assert np.mean(narrow**2) == pytest.approx(np.mean(dry**2), rel=1e-3)
