"""Score the shipped model on the bundled demo corpus, per voice, and write benchmarks/RESULTS.md.

The 120 demo queries (never trained on) are spoken by a training voice, two held-out voices of the training
engines and the held-out neural voice joe; `s2r`, `cascade-asr` and `cascade-gt` are scored on the same index.
Run: .venv/bin/python benchmarks/eval_demo.py   (about 8 minutes on 2 cores, most of it PocketSphinx)
"""

from __future__ import annotations

import json
import platform
import sys
from datetime import date
from pathlib import Path

import numpy as np
import torch

from s2r_edge.audio import load_audio, pad_to_chunks
from s2r_edge.cli import demo_index
from s2r_edge.model import load_checkpoint
from s2r_edge.evaluate import evaluate
from s2r_edge.runtime import DEFAULT_MODEL, Searcher
from s2r_edge.synth import speak_queries
from s2r_edge.texts import DEMO_QUERIES, read_queries
from s2r_edge.voices import DEMO_VOICE, HELDOUT_VOICES, JOE

from results import write_section

ROOT = Path(__file__).resolve().parent.parent
VOICES = {DEMO_VOICE: "training voice", HELDOUT_VOICES[0]: "held out", HELDOUT_VOICES[1]: "held out",
          JOE: "held-out neural"}
CHANCE = sum(1 / r for r in range(1, 11)) / 120


def int8_vs_eager(searcher: Searcher, audio: list[str]) -> np.ndarray:
    """Cosine between the int8 program's final vector and the eager fp32 model's, per utterance."""
    eager, _ = load_checkpoint(DEFAULT_MODEL.parent / "encoder.pt")
    cos = []
    for path in audio:
        wav = pad_to_chunks(load_audio(path), eager.cfg.chunk_samples)
        with torch.no_grad():
            ref = eager(torch.from_numpy(wav[None, :]))[0][0].numpy()
        cos.append(float(np.dot(searcher.search_samples(wav).embedding, ref)))
    return np.array(cos)


def main() -> None:
    searcher = Searcher.load(demo_index())
    rows, raw, audio = [], {}, []
    for voice, role in VOICES.items():
        folder = ROOT / "build" / "eval" / voice.replace(":", "_").replace("+", "_")
        queries = read_queries(speak_queries(DEMO_QUERIES, voice, folder))
        audio += [q.audio for q in queries]
        scores = evaluate(searcher, queries)
        raw[voice] = {k: v.to_json() for k, v in scores.items()}
        for system, s in scores.items():
            rows.append(f"| {voice} ({role}) | {system} | {s.mrr10:.3f} | {s.r1:.3f} | {s.r10:.3f} | "
                        f"{s.latency_ms_p50:.2f} | {s.latency_ms_p90:.2f} |")
        print(json.dumps({voice: raw[voice]}), file=sys.stderr)
    cos = int8_vs_eager(searcher, audio)
    info = searcher.encoder.info
    text = f"""## Walking skeleton: demo corpus, per voice ({date.today()})

Command: `.venv/bin/python benchmarks/eval_demo.py` (speaks the queries, then `s2r-edge eval` per voice).
Machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, the shared 2-core CI box.
Model: `{DEFAULT_MODEL.name}` v{info.model_version} ({DEFAULT_MODEL.stat().st_size / 1e6:.2f} MB, int8 through
the ExecuTorch runtime, {info.chunk_samples} samples = {info.chunk_samples / info.sample_rate * 1000:.0f} ms per step).
Corpus: 120 bundled demo documents, 6 domains; 120 held-out spoken-style queries, one relevant doc each.
Chance MRR@10 is {CHANCE:.3f}. Latency is from the end of the audio to the top-10 hits (`s2r`: the last
chunk's encoder step plus the HNSW search; `cascade-asr`: PocketSphinx, fed 160 ms chunks during the audio,
closing the utterance, then the teacher embedding of its transcript and the search; `cascade-gt`: teacher
embedding of the true transcript plus search). Piper (joe) samples its prosody at random, so its rows move
by about ±0.01 between runs.

| voice | system | MRR@10 | R@1 | R@10 | p50 ms | p90 ms |
|---|---|---|---|---|---|---|
""" + "\n".join(rows) + f"""

int8 program vs eager fp32 model, cosine of the final query vectors over these {len(cos)} utterances:
mean {cos.mean():.5f}, min {cos.min():.5f}.
"""
    write_section("demo-eval", text)
    print("wrote the demo-eval section of benchmarks/RESULTS.md")


if __name__ == "__main__":
    main()
