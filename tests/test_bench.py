"""`s2r-edge bench --json`: the figures mobile engineers compare, measured on the shipped model."""

import json

import pytest

from s2r_edge.errors import S2RError
from s2r_edge.runtime import DEFAULT_MODEL, PteEncoder
from tests.test_cli import N_DOCS, cli


def test_bench_json_has_the_figures(index_dir):
    run = cli("bench", "--index", str(index_dir), "--json")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    for key in ("step_ms_p50", "end_to_hits_ms_p50", "cascade_asr_end_to_hits_ms_p50", "peak_rss_mb",
                "rss_model_mb", "rss_index_mb", "model_mb", "real_time_factor"):
        assert result[key] > 0, key
    assert result["threads"] == 1 and result["index_docs"] == N_DOCS
    assert result["peak_rss_mb"] >= result["runtime_rss_mb"]


def test_thread_count_must_be_positive():
    with pytest.raises(S2RError, match="threads"):
        PteEncoder(DEFAULT_MODEL, threads=0)
