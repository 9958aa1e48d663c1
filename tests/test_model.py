"""The streaming contract: chunked `step` over an utterance equals the full-utterance forward (eager fp32)."""

import numpy as np
import pytest
import torch

from s2r_edge.audio import pad_to_chunks
from s2r_edge.model import ModelConfig, StreamingEncoder


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


@pytest.mark.parametrize("head", [{}, {"vocab": 50, "bag_dim": 16, "bag_phases": 2}])
def test_padding_mask_matches_unpadded_forward(head):
    torch.manual_seed(0)
    enc = StreamingEncoder(ModelConfig(dim=32, dilations=(1, 2), **head)).eval()
    wav = torch.randn(1, 5 * 2560) * 0.1
    padded = torch.cat([wav, torch.zeros(1, 3 * 2560)], dim=1)
    with torch.no_grad():
        alone, _ = enc(wav)
        masked, _ = enc(padded, lengths=torch.tensor([wav.shape[1]]))
    assert torch.allclose(alone, masked, atol=1e-5)


@pytest.mark.parametrize("phases", [1, 2])
def test_a_bag_student_streams_as_it_runs_whole_with_a_fixed_state(phases):
    torch.manual_seed(0)
    enc = StreamingEncoder(ModelConfig(dim=32, dilations=(1, 2), vocab=50, bag_dim=16, bag_phases=phases)).eval()
    wav = (torch.randn(7 * 2560) * 0.1).numpy()
    embs = stream(enc, wav)
    with torch.no_grad():
        full, _ = enc(torch.from_numpy(wav[None, :]))
        out = enc.step(torch.from_numpy(wav[None, :2560]), *enc.initial_state())
        x, mask = enc.frames(torch.from_numpy(wav[None, :]), None)
        shared = enc.pooled(x, mask, enc.head.phase_logits(x))  # training's path: the piece CTC's logits pooled
    assert (embs[-1] - full).abs().max().item() <= 1e-5 and torch.equal(shared, full)
    assert all(abs(e.norm().item() - 1) < 1e-5 for e in embs)
    held = [(1, 1, 32)] if phases == 2 else []
    assert [tuple(s.shape) for s in out[1:]] == enc.state_shapes()
    assert enc.state_shapes()[-2 - len(held) :] == [(1, 16), (1, 1), *held]


def test_a_bag_paired_both_ways_hears_the_same_pieces_a_frame_later():
    # frames that are silence (pure blank) but for six in the middle: one frame's delay re-pairs them all, and only
    # the bag of both pairings is left as it was
    torch.manual_seed(0)
    embs = {}
    for phases in (1, 2):
        head = StreamingEncoder(ModelConfig(dim=32, dilations=(1,), vocab=20, bag_dim=8, bag_phases=phases)).head
        with torch.no_grad():
            head.inp.bias.zero_()
            head.bias[0] = 30.0  # a pair of zero frames is blank for certain
            x = torch.zeros(1, 10, 32)
            x[0, 2:8] = 100 * torch.randn(6, 32)  # far from blank
            delayed = torch.cat([x.new_zeros(1, 1, 32), x[:, :-1]], dim=1)
            embs[phases] = [head.embed(*head(f, *[torch.zeros(s) for s in head.state_shapes(1)])) for f in (x, delayed)]
    assert (embs[2][0] - embs[2][1]).abs().max().item() < 1e-5
    assert (embs[1][0] - embs[1][1]).abs().max().item() > 1e-2


def test_a_bag_heard_for_certain_is_its_read_pieces():
    # all the posterior on one piece per frame: the bag is the mean of those pieces' vectors, as `read` takes them
    torch.manual_seed(0)
    head = StreamingEncoder(ModelConfig(dim=32, dilations=(1,), vocab=20, bag_dim=8, bag_stride=1)).head
    heard = [3, 7, 7, 12]
    with torch.no_grad():
        head.inp.weight.copy_(torch.eye(8, 32))
        head.inp.bias.zero_()
        x = torch.zeros(1, len(heard), 32)
        x[0, :, :8] = 1000 * head.table[heard]  # frames that point at one piece each, far beyond the others
        state = [torch.zeros(s) for s in head.state_shapes(1)]
        assert torch.allclose(head.embed(*head(x, *state)), head.read(torch.tensor([heard + [0, 0]])), atol=1e-5)


def test_a_running_mean_norm_streams_as_it_runs_whole_with_a_fixed_state(speech):
    torch.manual_seed(0)
    enc = StreamingEncoder(ModelConfig(dim=32, dilations=(1, 2), mean_norm=50.0)).eval()
    wav = pad_to_chunks(speech[1], enc.cfg.chunk_samples)
    embs = stream(enc, wav)
    with torch.no_grad():
        full, _ = enc(torch.from_numpy(wav[None, :]))
        out = enc.step(torch.from_numpy(wav[None, :2560]), *enc.initial_state())
        plain = StreamingEncoder(ModelConfig(dim=32, dilations=(1, 2))).eval()
        plain.load_state_dict(enc.state_dict())
        unnormed, _ = plain(torch.from_numpy(wav[None, :]))
    assert (embs[-1] - full).abs().max().item() <= 1e-5
    assert [tuple(s.shape) for s in out[1:]] == enc.state_shapes() and enc.state_shapes()[1:3] == [(1, 64), (1, 1)]
    assert (full - unnormed).abs().max().item() > 1e-3  # it changes what the encoder hears


def test_the_running_mean_is_of_speech_not_silence():
    # a loud constant spectrum after silence: the norm takes it out of the frames that follow, silence barely counts
    norm = StreamingEncoder(ModelConfig(dim=32, dilations=(1,), mean_norm=50.0)).mean_norm
    silence, voiced = torch.full((1, 100, 64), -3.0), torch.full((1, 400, 64), 2.0)
    out, total, weight = norm(torch.cat([silence, voiced], dim=1), *[torch.zeros(s) for s in norm.state_shapes(1)])
    assert weight.item() == pytest.approx(400, rel=0.01)  # the 100 silent frames weigh almost nothing
    assert out[0, -1].abs().max().item() < 0.25 and out[0, 100].mean().item() > 1.9  # the colour is learnt, then gone
    with pytest.raises(ValueError, match="mean_norm"):
        ModelConfig(mean_norm=-1.0)
