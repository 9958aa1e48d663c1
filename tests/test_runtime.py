"""The shipped int8 program through the ExecuTorch runtime: agrees with the eager model, streams, refuses bad files."""

import numpy as np
import pytest
import torch

from s2r_edge.audio import pad_to_chunks, resample
from s2r_edge.errors import S2RError
from s2r_edge.runtime import DEFAULT_MODEL, PteEncoder, Searcher
from s2r_edge.texts import DEMO_DOCS, read_docs


def pte_embedding(pte: PteEncoder, wav: np.ndarray) -> np.ndarray:
    state = pte.initial_state()
    n = pte.info.chunk_samples
    wav = pad_to_chunks(wav, n)
    for start in range(0, len(wav), n):
        emb, state = pte.step(wav[start : start + n], state)
    return emb


def test_metadata_travels_inside_the_program(pte, eager):
    assert pte.info.sample_rate == 16000
    assert pte.info.chunk_samples == eager.cfg.chunk_samples <= 2560  # 160 ms or less
    assert pte.info.emb_dim == 384
    assert pte.info.teacher == "all-MiniLM-L6-v2"
    assert pte.info.model_version == eager.cfg.version
    assert pte.state_shapes == eager.state_shapes()


def test_int8_program_agrees_with_eager_on_real_speech(pte, eager, speech):
    cosines = []
    for wav in speech:
        with torch.no_grad():
            ref, _ = eager(torch.from_numpy(pad_to_chunks(wav, pte.info.chunk_samples)[None, :]))
        cosines.append(float(np.dot(pte_embedding(pte, wav), ref[0].numpy())))
    assert min(cosines) >= 0.99, cosines


def test_stream_accepts_any_chunk_size_and_rate(index_dir, speech):
    searcher = Searcher.load(index_dir)
    whole = searcher.search_samples(speech[1], k=5)
    stream = searcher.create_stream()
    assert stream.hits() == []  # nothing heard yet
    pieces = np.array_split(speech[1], 7)
    for piece in pieces:
        stream.accept_waveform(16000, piece)
        if stream.embedding is not None:
            assert len(stream.hits(k=3)) == 3  # partial results after any full chunk
    final = stream.finish(k=5)
    assert [h.id for h in final] == [h.id for h in whole.hits]


def test_48k_stream_in_capture_blocks_matches_the_whole_file(index_dir, speech):
    """Chunks resampled one by one used to ring at every join; the carried filter state makes them seamless."""
    searcher = Searcher.load(index_dir)
    audio48 = resample(speech[2], 16000, 48000)
    stream = searcher.create_stream()
    for start in range(0, len(audio48), 1024):  # a typical PortAudio block
        stream.accept_waveform(48000, audio48[start : start + 1024])
    stream.finish()
    whole = searcher.search_samples(audio48, 48000)
    assert float(np.dot(stream.embedding, whole.embedding)) > 0.9999


def test_a_stream_refuses_a_change_of_rate(index_dir, speech):
    stream = Searcher.load(index_dir).create_stream()
    stream.accept_waveform(48000, speech[0][:4800])
    with pytest.raises(S2RError, match="new stream"):
        stream.accept_waveform(16000, speech[0][:1600])


def test_stream_without_audio_and_nan_audio_are_refused(index_dir):
    stream = Searcher.load(index_dir).create_stream()
    with pytest.raises(S2RError, match="no audio"):
        stream.finish()
    with pytest.raises(S2RError, match="NaN"):
        stream.accept_waveform(16000, np.full(100, np.nan, dtype=np.float32))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_damaged_programs_give_a_clear_error(tmp_path, damage):
    data = DEFAULT_MODEL.read_bytes()
    bad = {"truncate": data[: len(data) // 2], "garbage": b"\x00" * 64 + data[64:128], "empty": b""}[damage]
    path = tmp_path / "bad.pte"
    path.write_bytes(bad)
    with pytest.raises(S2RError, match="bad.pte"):
        PteEncoder(path)


def test_model_and_index_of_another_dimension_do_not_mix(tmp_path, pte):
    from s2r_edge.index import DocIndex

    docs = read_docs(DEMO_DOCS)[:10]
    DocIndex.build(docs, np.eye(10, 64, dtype=np.float32)).save(tmp_path / "idx64")
    with pytest.raises(S2RError, match="384-d vectors .* but the index holds 64-d"):
        Searcher(pte, DocIndex.load(tmp_path / "idx64"))
