"""Export from the committed checkpoint: int8 and fp32 programs load in the runtime and agree with eager."""

import numpy as np
import torch

from s2r_edge.audio import pad_to_chunks
from s2r_edge.export.pte import export_pte
from s2r_edge.runtime import PteEncoder


def test_exported_programs_match_eager(tmp_path, eager, speech):
    wav = pad_to_chunks(speech[2], eager.cfg.chunk_samples)
    with torch.no_grad():
        ref = eager(torch.from_numpy(wav[None, :]))[0][0].numpy()
    for int8, tolerance in ((False, 0.9999), (True, 0.99)):
        path = tmp_path / f"enc_{int8}.pte"
        size = export_pte(eager, path, int8=int8)
        pte = PteEncoder(path)
        state = pte.initial_state()
        for start in range(0, len(wav), pte.info.chunk_samples):
            emb, state = pte.step(wav[start : start + pte.info.chunk_samples], state)
        assert float(np.dot(emb, ref)) >= tolerance
        assert size == path.stat().st_size
    assert (tmp_path / "enc_True.pte").stat().st_size < 0.5 * (tmp_path / "enc_False.pte").stat().st_size
