import numpy as np
import pytest
import soundfile as sf

from s2r_edge.audio import StreamResampler, check_speech, load_audio, pad_to_chunks, resample
from s2r_edge.errors import S2RError


def test_resample_keeps_a_tone_at_its_frequency():
    rate = 44100
    t = np.arange(rate) / rate
    out = resample(np.sin(2 * np.pi * 440 * t).astype(np.float32), rate)
    assert len(out) == 16000
    peak_hz = np.argmax(np.abs(np.fft.rfft(out))) * 16000 / len(out)
    assert abs(peak_hz - 440) < 2


@pytest.mark.parametrize("rate", [44100, 48000, 22050, 8000, 16000])
def test_streamed_resampling_in_odd_blocks_equals_one_shot(speech, rate):
    audio = resample(speech[0], 16000, rate)
    blocks = np.split(audio, np.cumsum(np.random.default_rng(rate).integers(1, 2000, size=len(audio) // 500)))
    resampler = StreamResampler(rate)
    streamed = np.concatenate([resampler.push(b) for b in blocks] + [resampler.flush()])
    one_shot = resample(audio, rate)
    assert len(streamed) == len(one_shot)
    assert np.array_equal(streamed, one_shot)  # to the bit: the model hears the same audio however it arrives


def test_stereo_44k_file_is_read_as_16k_mono(tmp_path, speech):
    stereo = np.stack([speech[0], speech[0]], axis=1)
    stereo44 = np.stack([resample(stereo[:, c], 16000, 44100) for c in range(2)], axis=1)
    path = tmp_path / "stereo.wav"
    sf.write(path, stereo44, 44100)
    out = load_audio(path)
    assert out.ndim == 1
    assert abs(len(out) - len(speech[0])) <= 2


@pytest.mark.parametrize(
    "samples, message",
    [
        (np.zeros(0), "empty"),
        (np.zeros(1600), "ms long"),
        (np.zeros(16000), "silent"),
        (np.full(16000, np.nan), "NaN"),
        (np.sign(np.sin(np.arange(16000))) * 1.0, "clipped"),
    ],
)
def test_unusable_audio_is_refused_with_the_reason(samples, message):
    with pytest.raises(S2RError, match=message):
        check_speech(samples, "q.wav")


def test_missing_and_garbage_files_are_refused(tmp_path):
    with pytest.raises(S2RError, match="no such audio file"):
        load_audio(tmp_path / "nope.wav")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00garbage")
    with pytest.raises(S2RError, match="not a readable audio file"):
        load_audio(bad)


def test_pad_to_chunks():
    assert len(pad_to_chunks(np.ones(2561, dtype=np.float32), 2560)) == 5120
    assert len(pad_to_chunks(np.ones(0, dtype=np.float32), 2560)) == 2560
