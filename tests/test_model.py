"""The streaming contract: chunked `step` over an utterance equals the full-utterance forward (eager fp32), also once
a student's blocks are given wider dilations."""

import numpy as np
import pytest
import torch

from s2r_edge.audio import pad_to_chunks
from s2r_edge.errors import S2RError
from s2r_edge.model import ModelConfig, StreamingEncoder, with_dilations


def stream(encoder: StreamingEncoder, wav: np.ndarray) -> list[torch.Tensor]:
    """Embeddings after every chunk."""
    n = encoder.cfg.chunk_samples
    state, out = encoder.initial_state(), []
    with torch.no_grad():
        for start in range(0, len(wav), n):
            emb, *state = encoder.step(torch.from_numpy(wav[None, start : start + n]), *state)
            out.append(emb)
    return out


def test_chunked_steps_equal_full_forward_on_speech(eager, speech):
    for wav in speech:
        wav = pad_to_chunks(wav, eager.cfg.chunk_samples)
        with torch.no_grad():
            full, _ = eager(torch.from_numpy(wav[None, :]))
        assert (stream(eager, wav)[-1] - full).abs().max().item() <= 1e-4


def test_every_chunk_gives_a_unit_vector_and_state_does_not_grow(eager, speech):
    wav = pad_to_chunks(speech[0], eager.cfg.chunk_samples)
    embs = stream(eager, wav)
    assert len(embs) == len(wav) // eager.cfg.chunk_samples
    for e in embs:
        assert e.shape == (1, eager.cfg.emb_dim)
        assert abs(e.norm().item() - 1) < 1e-5
    state = eager.initial_state()
    out = eager.step(torch.from_numpy(wav[None, : eager.cfg.chunk_samples]), *state)
    assert [tuple(s.shape) for s in out[1:]] == eager.state_shapes()


def test_padding_mask_matches_unpadded_forward():
    torch.manual_seed(0)
    enc = StreamingEncoder(ModelConfig(dim=32, dilations=(1, 2))).eval()
    wav = torch.randn(1, 5 * 2560) * 0.1
    padded = torch.cat([wav, torch.zeros(1, 3 * 2560)], dim=1)
    with torch.no_grad():
        alone, _ = enc(wav)
        masked, _ = enc(padded, lengths=torch.tensor([wav.shape[1]]))
    assert torch.allclose(alone, masked, atol=1e-5)


def test_wider_dilations_keep_the_weights_stream_exactly_and_refuse_a_wrong_count(eager, speech):
    wider = with_dilations(eager, (1, 2, 4, 1, 2, 4, 16, 32)).eval()
    assert wider.cfg.dilations == (1, 2, 4, 1, 2, 4, 16, 32) and eager.cfg.dilations != wider.cfg.dilations
    assert all(torch.equal(v, eager.state_dict()[k]) for k, v in wider.state_dict().items())
    assert sum(s[1] for s in wider.state_shapes()[1:9]) > sum(s[1] for s in eager.state_shapes()[1:9])
    wav = pad_to_chunks(speech[0], wider.cfg.chunk_samples)
    with torch.no_grad():
        full, _ = wider(torch.from_numpy(wav[None, :]))
        before, _ = eager(torch.from_numpy(wav[None, :]))
    assert (stream(wider, wav)[-1] - full).abs().max().item() <= 1e-4
    assert not torch.allclose(full, before)  # the upper blocks now see other frames
    with pytest.raises(S2RError, match="has 8 blocks: give as many dilations"):
        with_dilations(eager, (1, 2))
