"""`s2r-edge eval` on spoken queries: metrics per system as JSON, and bad queries files named by line."""

import json

import pytest

from s2r_edge.cascade import transcribe
from s2r_edge.evaluate import evaluate, reciprocal_rank, score
from s2r_edge.runtime import Searcher
from s2r_edge.texts import read_queries
from tests.test_cli import cli


def test_reciprocal_rank_and_scores():
    assert reciprocal_rank(["a", "b", "c"], ("c",)) == pytest.approx(1 / 3)
    assert reciprocal_rank(["a"] * 10 + ["z"], ("z",)) == 0.0
    s = score([1.0, 0.5, 0.0, 0.0], [1, 2, 3, 4])
    assert (s.mrr10, s.r1, s.r10, s.n) == (0.375, 0.25, 0.5, 4)


@pytest.fixture(scope="module")
def spoken(tmp_path_factory, demo_queries):
    folder = tmp_path_factory.mktemp("spoken")
    texts = folder / "texts.jsonl"
    texts.write_text("".join(json.dumps({"text": q.text, "relevant": list(q.relevant)}) + "\n" for q in demo_queries[:6]))
    run = cli("synth", "--queries", str(texts), "--voice", "espeak:en-us+f2", "--out-dir", str(folder / "q"))
    assert run.returncode == 0, run.stderr
    return folder / "q" / "queries.jsonl"


def test_eval_json_has_every_metric_per_system(index_dir, spoken):
    run = cli("eval", "--index", str(index_dir), "--queries", str(spoken), "--json")
    assert run.returncode == 0, run.stderr
    systems = json.loads(run.stdout)["systems"]
    assert set(systems) == {"s2r", "cascade-asr", "cascade-gt"}
    for metrics in systems.values():
        assert {"mrr@10", "r@1", "r@10", "latency_ms_p50"} <= set(metrics)
        assert 0 <= metrics["r@1"] <= metrics["r@10"] <= 1
    assert systems["cascade-gt"]["mrr@10"] > 0.5  # the transcript finds its document
    assert systems["cascade-asr"]["latency_ms_p50"] > 0


def test_cascade_scores_do_not_depend_on_what_was_decoded_before(index_dir, spoken, loud_noise):
    searcher, queries = Searcher.load(index_dir), read_queries(spoken)
    first = evaluate(searcher, queries, ("cascade-asr",), progress=False)["cascade-asr"]
    transcribe(loud_noise)
    again = evaluate(searcher, queries, ("cascade-asr",), progress=False)["cascade-asr"]
    assert (again.mrr10, again.r1, again.r10) == (first.mrr10, first.r1, first.r10)


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"audio": "q0000.wav", "text": "x", "relevant": ["no-such-doc"]}', ":2: relevant doc ids not in the index: no-such-doc"),
        ('{"audio": "missing.wav", "text": "x", "relevant": ["help-001"]}', ":2: audio file .*missing.wav does not exist"),
        ('{"audio": "q0000.wav", "text": "x", "relevant": []}', ':2: "relevant" must be a non-empty list'),
        ("not json", ":2: not valid JSON"),
    ],
)
def test_bad_queries_files_are_named(index_dir, spoken, line, message):
    import re

    bad = spoken.parent / "bad.jsonl"
    bad.write_text(spoken.read_text().splitlines()[0] + "\n" + line + "\n")
    run = cli("eval", "--index", str(index_dir), "--queries", str(bad))
    assert run.returncode == 1 and re.search(message, run.stderr), run.stderr
    assert "Traceback" not in run.stderr
