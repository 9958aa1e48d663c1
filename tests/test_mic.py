"""`s2r-edge listen` through the real PortAudio capture path: a PulseAudio null sink is the microphone.

Queries spoken by a training voice are played into the sink with paplay while `listen` captures its monitor;
the hits must match a file search of the same audio. PulseAudio is started here if it is not running: a
machine where it cannot start fails these tests, it does not skip them.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from s2r_edge.errors import S2RError
from s2r_edge.mic import Listener, ListenConfig, WavSource
from s2r_edge.runtime import Searcher
from s2r_edge.virtual_mic import NullSink
from s2r_edge.voices import DEMO_VOICE, Voice

# The test is about capture, not about the model: it plays the demo queries (of the first CANDIDATES) that the shipped
# model answers right from a file by the widest margins, where a capture's other chunk phase cannot turn the top hit.
CANDIDATES, FOUND = 40, 2


@pytest.fixture(scope="module")
def sink():
    try:
        with NullSink(f"s2r_test_{os.getpid()}") as s:
            yield s
    except S2RError as exc:
        pytest.fail(f"the capture tests need PulseAudio: {exc}")


@pytest.fixture(scope="module")
def queries(tmp_path_factory, demo_queries, index_dir):
    """(wav path, relevant doc ids, top hit of a file search) per query, in the demo set's order."""
    folder = tmp_path_factory.mktemp("spoken")
    voice, searcher = Voice.parse(DEMO_VOICE), Searcher.load(index_dir)
    found = []
    for i, query in enumerate(demo_queries[:CANDIDATES]):
        path = folder / f"q{i}.wav"
        sf.write(path, voice.speak(query.text), 16000)
        first, second = searcher.search_wav(path, k=2).hits
        if first.id in query.relevant:
            found.append((first.score - second.score, i, (path, query.relevant, first.id)))
    assert len(found) >= FOUND, "the shipped model answers too few demo queries right to test capture with"
    return [query for _, _, query in sorted(sorted(found, reverse=True)[:FOUND], key=lambda f: f[1])]


def start_listen(*args: str, stdin: int | None = None) -> subprocess.Popen:
    """Start `s2r-edge listen` and return once it is capturing (its 'listening on' line)."""
    proc = subprocess.Popen([sys.executable, "-m", "s2r_edge.cli", "listen", *args], stdin=stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    assert line.startswith("listening on"), line + proc.stderr.read()
    return proc


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def test_a_query_played_into_the_null_sink_is_found(sink, index_dir, queries):
    for wav, relevant, file_top in queries:
        proc = start_listen("--index", str(index_dir), "--device", sink.monitor, "--once", "--json",
                            "--timeout", "60", "-k", "5")
        sink.play(wav)
        rc, out, err = finish(proc)
        assert rc == 0, err
        result = json.loads(out)
        ids = [h["id"] for h in result["hits"]]
        assert ids[0] == file_top  # the live path hears what the file search reads
        assert set(relevant) & set(ids)
        assert result["end_to_hits_ms"] > 0 and result["finish_ms"] > 0
        assert result["overflows"] == 0 and result["dropped"] == 0
        assert result["device"] == f"pulse:{sink.monitor}"
        assert result["chunks"] >= result["speech_s"] / 0.16


def test_48k_capture_is_resampled_on_the_way(sink, index_dir, queries):
    wav, _, file_top = queries[0]
    proc = start_listen("--index", str(index_dir), "--device", sink.monitor, "--rate", "48000", "--once", "--json",
                        "--timeout", "60")
    sink.play(wav)
    rc, out, err = finish(proc)
    assert rc == 0, err
    assert json.loads(out)["hits"][0]["id"] == file_top


def test_utterances_one_after_another_then_ctrl_c_gives_a_summary(sink, index_dir, queries):
    proc = start_listen("--index", str(index_dir), "--device", sink.monitor, "--json")
    for wav, _, _ in queries:
        sink.play(wav)
        time.sleep(1.0)  # past the hangover: each query is its own utterance
    proc.send_signal(signal.SIGINT)
    rc, out, err = finish(proc)
    assert rc == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [u["hits"][0]["id"] for u in lines[:-1]] == [top for _, _, top in queries]
    assert lines[-1]["summary"]["utterances"] == len(queries)
    assert "2 utterances" in err and "Traceback" not in err


def test_push_to_talk_takes_what_is_between_the_two_enters(sink, index_dir, queries):
    wav, _, file_top = queries[1]
    proc = start_listen("--index", str(index_dir), "--device", sink.monitor, "--push-to-talk", "--once", "--json",
                        "--timeout", "60", stdin=subprocess.PIPE)
    proc.stdin.write("\n")
    proc.stdin.flush()
    sink.play(wav)
    proc.stdin.write("\n")
    proc.stdin.flush()
    rc, out, err = finish(proc)
    assert rc == 0, err
    result = json.loads(out)
    assert result["hits"][0]["id"] == file_top
    assert result["speech_s"] >= sf.info(str(wav)).duration * 0.9


def test_long_quiet_is_never_a_query(sink, index_dir, tmp_path):
    room = (np.random.default_rng(0).standard_normal(16000 * 6) * 10 ** (-60 / 20)).astype(np.float32)
    sf.write(tmp_path / "room.wav", room, 16000)
    proc = start_listen("--index", str(index_dir), "--device", sink.monitor, "--once", "--json", "--timeout", "5")
    sink.play(tmp_path / "room.wav")
    rc, out, err = finish(proc)
    assert rc == 1 and out == ""
    assert "no speech heard within 5 s" in err


def test_no_audio_server_names_the_fix(index_dir):
    env = {**os.environ, "PULSE_SERVER": "unix:/nonexistent/native"}
    proc = subprocess.run([sys.executable, "-m", "s2r_edge.cli", "listen", "--index", str(index_dir), "--once"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "start PulseAudio" in proc.stderr and "--wav" in proc.stderr


def test_unknown_device_points_to_the_list(sink, index_dir):
    proc = subprocess.run([sys.executable, "-m", "s2r_edge.cli", "listen", "--index", str(index_dir),
                           "--device", "no-such-mic"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "--list-devices" in proc.stderr
    listed = subprocess.run([sys.executable, "-m", "s2r_edge.cli", "listen", "--list-devices"],
                            capture_output=True, text=True, timeout=120)
    assert f"pulse source: {sink.monitor}" in listed.stdout


def test_a_full_queue_drops_and_counts_and_the_loop_goes_on(index_dir, queries):
    wav, _, file_top = queries[0]
    slack = 50  # 1 s: once the stall ends, the replay below (paced like a microphone) cannot fill it again even on
    # a loaded machine, where a queue of a few blocks did (a consumer 80 ms behind drops more than the 2 counted)
    listener = Listener(Searcher.load(index_dir), WavSource(wav), ListenConfig(queue_blocks=slack))
    for i in range(slack + 2):  # the capture side outruns a stalled consumer; PortAudio flags the last 6 blocks
        listener.on_block(np.zeros(320, dtype=np.float32), time.monotonic(), i >= slack - 4)
    assert (listener.summary.overflows, listener.summary.dropped) == (6, 2)
    results = []
    listener.run(results.append, once=True)
    assert results[0].hits[0].id == file_top
    assert (results[0].overflows, results[0].dropped) == (6, 2)


def test_wav_replay_goes_through_the_same_path(index_dir, queries):
    wav, _, file_top = queries[1]
    proc = subprocess.run([sys.executable, "-m", "s2r_edge.cli", "listen", "--index", str(index_dir), "--wav",
                           str(wav), "--fast", "--once", "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["hits"][0]["id"] == file_top


@pytest.mark.parametrize(
    "args, message",
    [
        (["--fast"], "only applies to --wav"),
        (["--timeout", "0"], "must be positive"),
        (["-k", "0"], "at least 1"),
        (["--wav", "missing.wav"], "no such audio file"),
        (["--wav", "q.wav", "--device", "0"], "leave out --device"),
    ],
)
def test_bad_listen_arguments_are_one_line_and_exit_1(index_dir, args, message):
    proc = subprocess.run([sys.executable, "-m", "s2r_edge.cli", "listen", "--index", str(index_dir), *args],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and message in proc.stderr and proc.stderr.count("\n") == 1
