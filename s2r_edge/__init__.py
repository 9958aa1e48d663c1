"""s2r-edge: on-device voice search. Spoken audio -> query vector (streaming int8 ExecuTorch encoder) -> HNSW hits.

    from s2r_edge import Searcher
    searcher = Searcher.load("my_index/")
    hits = searcher.search_wav("query.wav", k=10).hits

The public names are imported on first use, so training code (which needs neither hnswlib nor ExecuTorch)
can run on a bare GPU host.
"""

import logging
from importlib import import_module

from s2r_edge.errors import S2RError

# torchao (pulled in by ExecuTorch and transformers) logs at import that its CUDA kernels cannot load on a
# CPU, and torch logs a deprecation for its enums: noise on every command's stderr, not problems.
for _name in ("torchao", "torch.utils._pytree"):
    logging.getLogger(_name).setLevel(logging.ERROR)

_LAZY = {"Searcher": "runtime", "SearchResult": "runtime", "Stream": "runtime", "DocIndex": "index", "Hit": "index"}
__all__ = ["S2RError", *_LAZY]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(import_module(f"s2r_edge.{_LAZY[name]}"), name)
    raise AttributeError(f"module 's2r_edge' has no attribute {name!r}")
