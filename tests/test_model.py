"""The streaming contract: chunked `step` over an utterance equals the full-utterance forward (eager fp32)."""

import numpy as np
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


def test_padding_mask_matches_unpadded_forward():
    torch.manual_seed(0)
    enc = StreamingEncoder(ModelConfig(dim=32, dilations=(1, 2))).eval()
    wav = torch.randn(1, 5 * 2560) * 0.1
    padded = torch.cat([wav, torch.zeros(1, 3 * 2560)], dim=1)
    with torch.no_grad():
        alone, _ = enc(wav)
        masked, _ = enc(padded, lengths=torch.tensor([wav.shape[1]]))
    assert torch.allclose(alone, masked, atol=1e-5)


def test_a_bag_student_streams_as_it_runs_whole_with_a_fixed_state():
    torch.manual_seed(0)
    enc = StreamingEncoder(ModelConfig(dim=32, dilations=(1, 2), vocab=50, bag_dim=16)).eval()
    wav = (torch.randn(7 * 2560) * 0.1).numpy()
    embs = stream(enc, wav)
    with torch.no_grad():
        full, _ = enc(torch.from_numpy(wav[None, :]))
        out = enc.step(torch.from_numpy(wav[None, :2560]), *enc.initial_state())
    assert (embs[-1] - full).abs().max().item() <= 1e-5
    assert all(abs(e.norm().item() - 1) < 1e-5 for e in embs)
    assert [tuple(s.shape) for s in out[1:]] == enc.state_shapes() and enc.state_shapes()[-2:] == [(1, 16), (1, 1)]


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
