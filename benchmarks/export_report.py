"""Export, parity and native-runner numbers: write the export section of RESULTS.md.

Exports the committed checkpoint (int8 dynamic, int8 static calibrated on training voices, fp32, ONNX), streams
240 held-out demo queries spoken by two training voices through each and compares with the eager model; then
runs the native C++ runner (`make native` first) against the Python runtime on the demo index, 1 and 2 threads.

Run: make native && .venv/bin/python benchmarks/export_report.py   (about 15 minutes on 2 busy cores)
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import soundfile as sf

from s2r_edge.audio import pad_to_chunks
from s2r_edge.cli import demo_index
from s2r_edge.export.calibrate import calibration_speech, parity_speech
from s2r_edge.export.onnx import OnnxEncoder, export_onnx
from s2r_edge.export.parity import cosines, eager_embeddings
from s2r_edge.export.pte import export_pte
from s2r_edge.model import load_checkpoint
from s2r_edge.runtime import DEFAULT_MODEL, PteEncoder, Searcher
from s2r_edge.texts import DEMO_QUERIES, read_queries
from s2r_edge.voices import DEMO_VOICE, Voice

from results import write_section

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINT = ROOT / "s2r_edge" / "models" / "encoder.pt"
NATIVE = ROOT / "benchmarks" / "native" / "build" / "s2r_native"


def parity_rows(out: Path) -> list[str]:
    """One table row per program: size, mean/min cosine to eager over the parity set, step latency."""
    encoder = load_checkpoint(CHECKPOINT)[0]
    n = encoder.cfg.chunk_samples
    speech = parity_speech(progress=True)
    reference = eager_embeddings(encoder, speech)
    programs = {
        "int8 dynamic (shipped)": (out / "encoder_int8.pte", lambda p: export_pte(encoder, p)),
        "int8 static, blocks' feed-forward layers": (
            out / "encoder_int8_static.pte", lambda p: export_pte(encoder, p, static_speech=calibration_speech(240, True))),
        "fp32 .pte": (out / "encoder_fp32.pte", lambda p: export_pte(encoder, p, int8=False)),
        "fp32 ONNX (ONNX Runtime, 1 thread)": (out / "encoder.onnx", lambda p: export_onnx(encoder, p)),
    }
    loaded, rows = {}, []
    for name, (path, export) in programs.items():
        size = export(path)
        loaded[name] = OnnxEncoder(path) if path.suffix == ".onnx" else PteEncoder(path)
        cos = cosines(loaded[name], speech, reference, n)
        rows.append(f"| {name} | {size / 1e6:.2f} | {np.mean(cos):.5f} | {np.min(cos):.5f} |")
    # Latency in interleaved rounds, so that load from other jobs on the machine hits every program alike.
    sample, rounds = speech[::6], {name: [] for name in loaded}
    chunks = sum(len(pad_to_chunks(w, n)) // n for w in sample)
    for _ in range(5):
        for name, program in loaded.items():
            t0 = time.perf_counter()
            cosines(program, sample, reference[::6], n)
            rounds[name].append((time.perf_counter() - t0) * 1000 / chunks)
    return [f"{row} {np.median(rounds[name]):.3f} |" for row, name in zip(rows, loaded)]


def python_peak_rss_mb(wav: Path, index: Path) -> float:
    """Peak RSS of a fresh `s2r-edge search` process (model + index + the Python runtime's imports)."""
    code = ("import sys; from s2r_edge.cli import main; main(sys.argv[1:]); "  # VmHWM: see s2r_native.cpp
            "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')))")
    done = subprocess.run([sys.executable, "-c", code, "search", "--index", str(index), "--audio", str(wav), "--json"],
                          check=True, capture_output=True, text=True)
    return int(done.stdout.split()[-1]) / 1024


def native_rows(wavs: list[Path], index: Path, rounds: int = 3) -> list[str]:
    """Native runner vs the Python runtime on the same queries, 1 and 2 threads, in interleaved rounds:
    median step after the first (warm-up) one, median end-of-speech -> hits, peak RSS."""
    docs = Searcher.load(index).index
    steps, ends, rss = {}, {}, {}
    for _ in range(rounds):
        for threads in (1, 2):
            key = f"native C++, {threads} thread(s)"
            cmd = [str(NATIVE), "--model", str(DEFAULT_MODEL), "--index", str(index), "--threads", str(threads), "--audio"]
            for w in wavs:
                run = json.loads(subprocess.run([*cmd, str(w)], check=True, capture_output=True, text=True).stdout)
                steps.setdefault(key, []).extend(run["chunk_ms"][1:])
                ends.setdefault(key, []).append(run["end_to_hits_ms"])
                rss[key] = f"{max(run['peak_rss_mb'], float(rss.get(key, 0))):.1f}"
        for threads in (1, 2):
            key = f"Python runtime, {threads} thread(s)"
            searcher = Searcher(PteEncoder(DEFAULT_MODEL, threads=threads), docs)
            n = searcher.encoder.info.chunk_samples
            for w in wavs:
                stream, audio = searcher.create_stream(), sf.read(w, dtype="float32")[0]
                for start in range(0, len(audio), n):
                    stream.accept_waveform(16000, audio[start : start + n])
                    if n <= start <= len(audio) - n:  # a full chunk, and not the first (warm-up) step
                        steps.setdefault(key, []).append(stream.last_step_ms)
                ends.setdefault(key, []).append(searcher.search_wav(w).end_to_hits_ms)
    rss["Python runtime, 1 thread(s)"] = f"{python_peak_rss_mb(wavs[0], index):.1f} (fresh `s2r-edge search`)"
    return [f"| {k} | {np.median(steps[k]):.3f} | {np.median(ends[k]):.3f} | {rss.get(k, 'as above')} |" for k in steps]


def main() -> None:
    if not NATIVE.is_file():
        sys.exit(f"{NATIVE} is missing: run `make native` first")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        subprocess.run(["cmake", "--build", str(NATIVE.parent), "--clean-first", "-j2"], check=True, capture_output=True)
        build_s = time.perf_counter() - t0
        voice = Voice.parse(DEMO_VOICE)
        wavs = []
        for i, q in enumerate(read_queries(DEMO_QUERIES, need_audio=False)[::6]):
            wavs.append(tmp / f"q{i}.wav")
            sf.write(wavs[-1], voice.speak(q.text), 16000, subtype="PCM_16")
        native = native_rows(wavs, demo_index())
        parity = parity_rows(tmp)
    n_parity = 2 * len(read_queries(DEMO_QUERIES, need_audio=False))
    write_section("export", f"""## Export: programs, parity with eager, native runner ({date.today()})

Command: `make native && .venv/bin/python benchmarks/export_report.py`. Machine: {platform.machine()}, the shared
2-core box (other jobs running: read latencies as relative). Checkpoint `s2r_edge/models/encoder.pt`.

Parity: {n_parity} utterances (every held-out demo query text, spoken by the training voices espeak en-us+f2 and
en-gb+m3), each streamed chunk by chunk through the program and compared with the eager full-utterance forward.
Static int8 was calibrated on 240 training-query utterances spoken round-robin by all training voices (never
piper:joe). Step = ms per 160 ms chunk (Python runtime, 1 thread): median of 5 interleaved rounds over 40 of the utterances.

| program | MB | mean cosine | min cosine | step ms |
|---|---|---|---|---|
{chr(10).join(parity)}

Native runner vs Python, shipped int8 program, demo index ({len(wavs)} demo queries spoken by {DEMO_VOICE}):
3 interleaved rounds; step = median ms per chunk after the first; end -> hits = last chunk's step plus the HNSW search; peak RSS
of the whole process (model + index; the Python one has torch and the ExecuTorch export stack imported).
Native build from scratch (`cmake --build --clean-first -j2`): {build_s:.0f} s.

| runner | step ms | end -> hits ms | peak RSS MB |
|---|---|---|---|
{chr(10).join(native)}
""")
    print("wrote the export section of benchmarks/RESULTS.md")


if __name__ == "__main__":
    main()
