"""The `s2r-edge` command end to end, as a user runs it: real TTS speech, real index, the shipped .pte."""

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from s2r_edge.runtime import Searcher
from s2r_edge.synth import SynthConfig, synthesize, write_targets
from s2r_edge.teacher import embed_texts
from s2r_edge.texts import DEMO_DOCS, read_docs
from s2r_edge.voices import DEMO_VOICE, Voice

N_DOCS = len(read_docs(DEMO_DOCS))


def chance_mrr(n_docs: int, n_queries: int) -> tuple[float, float]:
    """Mean and standard deviation of MRR@10 over `n_queries` for a random ranking of `n_docs` docs."""
    mean = sum(1 / r for r in range(1, 11)) / n_docs
    var = sum(1 / r**2 for r in range(1, 11)) / n_docs - mean**2
    return mean, (var / n_queries) ** 0.5


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "s2r_edge.cli", *args], capture_output=True, text=True, timeout=600)


def test_index_build_then_search_json(tmp_path, query_wav):
    built = cli("index", "build", "--docs", str(DEMO_DOCS), "--out", str(tmp_path / "idx"), "--json")
    assert built.returncode == 0, built.stderr
    assert json.loads(built.stdout)["count"] == N_DOCS
    found = cli("search", "--index", str(tmp_path / "idx"), "--audio", str(query_wav), "--json", "-k", "4")
    assert found.returncode == 0, found.stderr
    result = json.loads(found.stdout)
    assert len(result["hits"]) == 4
    for hit in result["hits"]:
        assert isinstance(hit["id"], str) and isinstance(hit["text"], str) and -1 <= hit["score"] <= 1
    scores = [h["score"] for h in result["hits"]]
    assert scores == sorted(scores, reverse=True)
    assert result["end_to_hits_ms"] > 0


def test_beats_chance_on_held_out_queries(index_dir, demo_queries):
    """Held-out query texts (never trained on) spoken by a training voice: MRR@10 well above chance."""
    searcher, voice = Searcher.load(index_dir), Voice.parse(DEMO_VOICE)
    rr = []
    for q in demo_queries:
        ids = [h.id for h in searcher.search_samples(voice.speak(q.text), k=10).hits]
        rr.append(next((1 / r for r, i in enumerate(ids, 1) if i in q.relevant), 0.0))
    mrr = float(np.mean(rr))
    chance, sd = chance_mrr(N_DOCS, len(rr))
    print(f"MRR@10 {mrr:.3f} on {len(rr)} held-out queries (chance {chance:.3f} +- {sd:.3f})")
    assert mrr > chance + 4 * sd


def write(path, samples, rate):
    sf.write(path, samples, rate)
    return path


def write_bytes(path, data):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p, s: p / "missing.wav", "no such audio file"),
        (lambda p, s: write(p / "empty.wav", np.zeros(0, dtype=np.float32), 16000), "empty"),
        (lambda p, s: write_bytes(p / "text.wav", b"not audio"), "not a readable audio file"),
        (lambda p, s: write(p / "silent.wav", np.zeros(16000, dtype=np.float32), 16000), "silent"),
    ],
)
def test_bad_audio_is_one_line_and_exit_1(tmp_path, index_dir, speech, make, message):
    run = cli("search", "--index", str(index_dir), "--audio", str(make(tmp_path, speech)))
    assert run.returncode == 1
    assert message in run.stderr and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_stereo_44k_wav_is_resampled_and_found(tmp_path, index_dir, speech):
    from s2r_edge.audio import resample

    mono44 = resample(speech[0], 16000, 44100)
    path = write(tmp_path / "stereo44.wav", np.stack([mono44, mono44], axis=1), 44100)
    ref = write(tmp_path / "mono16.wav", speech[0], 16000)
    a = json.loads(cli("search", "--index", str(index_dir), "--audio", str(path), "--json").stdout)
    b = json.loads(cli("search", "--index", str(index_dir), "--audio", str(ref), "--json").stdout)
    assert [h["id"] for h in a["hits"][:3]] == [h["id"] for h in b["hits"][:3]]


def test_index_edited_after_build_is_refused(tmp_path, query_wav):
    assert cli("index", "build", "--docs", str(DEMO_DOCS), "--out", str(tmp_path / "idx")).returncode == 0
    docs = tmp_path / "idx" / "docs.jsonl"
    docs.write_text(docs.read_text().replace("Wi-Fi", "WiFi", 1) + "")
    run = cli("search", "--index", str(tmp_path / "idx"), "--audio", str(query_wav))
    assert run.returncode == 1 and "docs.jsonl: changed since the index was built" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(
    "command",
    [[], ["index"], ["index", "build"], ["index", "add"], ["index", "remove"], ["search"], ["eval"], ["bench"],
     ["demo"], ["listen"], ["synth"], ["train"], ["export"]],
)
def test_every_command_has_help(command):
    run = cli(*command, "--help")
    assert run.returncode == 0 and "usage: s2r-edge" in run.stdout


def test_usage_errors_exit_2():
    assert cli("search", "--index", "x").returncode == 2


def test_index_compact_build_add_remove_and_filtered_search(tmp_path, query_wav):
    """Compact settings on the command line, then edits without a rebuild, then a filtered spoken search."""
    idx = str(tmp_path / "idx")
    built = cli("index", "build", "--docs", str(DEMO_DOCS), "--out", idx, "--dim", "48", "--rerank", "20", "--M", "8",
                "--json")
    assert built.returncode == 0, built.stderr
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert manifest["dim"] == 384 and manifest["projection"]["out_dim"] == 48 and manifest["hnsw"]["M"] == 8
    assert manifest["codes"]["rerank"] == 20
    new = tmp_path / "new.jsonl"
    new.write_text(json.dumps({"id": "notes-999", "text": "Grocery list for the weekend barbecue", "domain": "notes"}) + "\n")
    added = cli("index", "add", "--index", idx, "--docs", str(new), "--json")
    assert added.returncode == 0 and json.loads(added.stdout)["count"] == N_DOCS + 1, added.stderr
    again = cli("index", "add", "--index", idx, "--docs", str(new))
    assert again.returncode == 1 and "'notes-999' is already in the index" in again.stderr
    assert "Traceback" not in again.stderr
    removed = cli("index", "remove", "--index", idx, "--ids", "notes-999,settings-001", "--json")
    assert removed.returncode == 0 and json.loads(removed.stdout)["count"] == N_DOCS - 1, removed.stderr
    unknown = cli("index", "remove", "--index", idx, "--ids", "settings-001")
    assert unknown.returncode == 1 and "no document with id 'settings-001'" in unknown.stderr
    found = cli("search", "--index", idx, "--audio", str(query_wav), "--where", "domain=settings", "--json")
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)["hits"]
    assert len(hits) == 10 and all(h["domain"] == "settings" for h in hits)
    assert "settings-001" not in {h["id"] for h in hits}
    bad = cli("search", "--index", idx, "--audio", str(query_wav), "--where", "domain")
    assert bad.returncode == 1 and "expected FIELD=VALUE" in bad.stderr


def test_training_texts_mix_sources_once_each_and_never_a_test_query(tmp_path, capsys):
    from s2r_edge.cli import build_parser, training_texts
    from s2r_edge.texts import DEMO_QUERIES, read_queries

    test_text = read_queries(DEMO_QUERIES, need_audio=False)[0].text
    extra = tmp_path / "extra.txt"
    extra.write_text(f"play some jazz in the kitchen\nPlay some jazz in the kitchen!\n{test_text}\n")
    args = build_parser().parse_args(["synth", "--no-bundled", "--texts", str(extra), "--fortunes", "5", "--wordnet", "5",
                                      "--ding", "5"])
    texts = training_texts(args)
    assert texts[0] == "play some jazz in the kitchen" and len(texts) == 16  # 1 of the file's 3, 3 x 5 sampled
    assert test_text not in texts
    assert "dropped 2 texts" in capsys.readouterr().err


def test_synth_and_train_run_on_a_training_host_without_the_search_stack(tmp_path):
    # a GPU host (DESIGN.md § GPU host) runs scripts/gpu_host/train.sh from the source tree: no hnswlib there, and no
    # compiled graph walker; the two commands it runs must not need them
    texts = ["turn on the torch", "call mum on speaker", "open my shopping list", "play something relaxing"]
    write_targets(texts, embed_texts(texts), tmp_path / "texts.npz")
    bare = "import sys; sys.modules['hnswlib'] = sys.modules['s2r_edge._walk'] = None; from s2r_edge.cli import main; "
    for args in (["synth", "--from-targets", str(tmp_path / "texts.npz"), "--voices", "espeak:en-us",
                  "--out", str(tmp_path / "d.npz")],
                 ["train", "--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "s.pt"), "--epochs", "1",
                  "--batch-size", "2", "--dim", "32"]):
        run = subprocess.run([sys.executable, "-c", bare + f"sys.exit(main({args!r}))"], capture_output=True,
                             text=True, timeout=600)
        assert run.returncode == 0, run.stderr
    assert (tmp_path / "s.pt").is_file()
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(texts)))
    args = ["index", "build", "--docs", str(docs), "--out", str(tmp_path / "idx")]
    search = subprocess.run([sys.executable, "-c", bare + f"sys.exit(main({args!r}))"], capture_output=True,
                            text=True, timeout=600)  # what needs the search stack says what is missing
    assert search.returncode == 1 and "hnswlib is not installed here" in search.stderr, search.stderr
    blocked = subprocess.run([sys.executable, "-c", bare + "import hnswlib"], capture_output=True, text=True)
    assert blocked.returncode == 1 and "ModuleNotFoundError" in blocked.stderr  # the test's host really lacks it


def test_train_takes_the_recipe_options_and_refuses_a_negative_weight(tmp_path):
    texts = ["turn on the torch", "call mum on speaker", "open my shopping list", "play something relaxing"]
    synthesize(texts, SynthConfig(voices=("espeak:en-us",)), embed_texts(texts), progress=False).save(tmp_path / "d.npz")
    run = cli("train", "--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "s.pt"), "--epochs", "1",
              "--batch-size", "2", "--dim", "32", "--ctc-weight", "2", "--no-spec-augment", "--mean-norm", "50")
    assert run.returncode == 0, run.stderr
    ckpt = torch.load(tmp_path / "s.pt", weights_only=False)
    assert ckpt["train_config"]["ctc_weight"] == 2 and ckpt["train_config"]["spec_augment"] is False
    assert ckpt["config"]["mean_norm"] == 50

    refused = cli("train", "--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "n.pt"), "--ctc-weight", "-1")
    assert refused.returncode == 1 and "--ctc-weight must be 0 or more" in refused.stderr
    refused = cli("train", "--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "n.pt"), "--mean-norm", "-1")
    assert refused.returncode == 1 and "--mean-norm must be 0 (off) or a positive weight" in refused.stderr
    refused = cli("train", "--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "n.pt"), "--doc-weight", "-1")
    assert refused.returncode == 1 and "--doc-weight must be 0 or more" in refused.stderr
    refused = cli("train", "--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "n.pt"), "--docs", str(DEMO_DOCS))
    assert refused.returncode == 1 and "add --doc-weight" in refused.stderr
    refused = cli("train", "--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "n.pt"), "--read-batch", "0")
    assert refused.returncode == 1 and "--read-weight and --read-batch must be above 0" in refused.stderr
    refused = cli("train", "--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "n.pt"), "--checkpoint-minutes",
                  "-1")
    assert refused.returncode == 1 and "--checkpoint-minutes must be 0 (after every step) or more" in refused.stderr
    refused = cli("train", "--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "n.pt"), "--epochs", "-1")
    assert refused.returncode == 1 and "--epochs must be 0 (write the student as it starts) or more" in refused.stderr
    assert not (tmp_path / "n.pt").exists()
    write_targets(texts, embed_texts(texts), tmp_path / "read.npz")
    run = cli("train", "--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "l.pt"), "--epochs", "1",
              "--batch-size", "2", "--dim", "32", "--read-texts", str(tmp_path / "read.npz"), "--read-layer", "0",
              "--read-batch", "3", "--read-weight", "0.5")
    assert run.returncode == 0, run.stderr
    recipe = torch.load(tmp_path / "l.pt", weights_only=False)["train_config"]
    assert (recipe["read_layer"], recipe["read_batch"], recipe["read_weight"]) == (0, 3, 0.5)
    # the retrieval term on the demo docs: "open my shopping list" is one of their bundled training queries
    run = cli("train", "--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "r.pt"), "--epochs", "1",
              "--batch-size", "2", "--dim", "32", "--doc-weight", "1")
    assert run.returncode == 0, run.stderr
    assert "retrieval term: 1 training utterances speak a known query of 420 docs" in run.stdout
    assert torch.load(tmp_path / "r.pt", weights_only=False)["train_config"]["doc_weight"] == 1
