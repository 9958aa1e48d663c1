"""The cascade's PocketSphinx setting (`s2r_edge.cascade.DECODER`) beside PocketSphinx's defaults: word error rate
and decode time per query on test queries of the benchmark voices (clean unless told) — the numbers quoted in cascade.py.

Run after `make eval` (it reads that run's audio):
.venv/bin/python benchmarks/decoder_setting.py [--every 14] [--condition babble@10]
"""

from __future__ import annotations

import argparse
import re
import time

import numpy as np
from pocketsphinx import Decoder

from s2r_edge.audio import load_audio
from s2r_edge.cascade import CHUNK, DECODER
from s2r_edge.texts import read_queries

from eval_bench import VOICES, voice_dir


def word_errors(ref: str, hyp: str) -> tuple[int, int]:
    """(substitutions + insertions + deletions, reference words) between two transcripts."""
    r, h = re.findall(r"[a-z']+", ref.lower()), hyp.split()
    row = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        diag, row[0] = row[0], i
        for j in range(1, len(h) + 1):
            diag, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diag + (r[i - 1] != h[j - 1]))
    return row[-1], len(r)


def transcribe(decoder: Decoder, samples: np.ndarray) -> str:
    """One utterance fed in 160 ms chunks, as the cascade does."""
    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
    decoder.start_utt()
    for start in range(0, len(pcm), CHUNK):
        decoder.process_raw(pcm[start : start + CHUNK].tobytes(), full_utt=False)
    decoder.end_utt()
    return decoder.hyp().hypstr if decoder.hyp() else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--every", type=int, default=14, help="use every N-th test query of each voice")
    parser.add_argument("--condition", default="clean", help="which of make eval's conditions, e.g. babble@10")
    args = parser.parse_args()
    for name, settings in (("defaults", {}), ("cascade.DECODER", DECODER)):
        decoder = Decoder(samprate=16000, logfn="/dev/null", **settings)
        cells = []
        for voice in VOICES:
            folder = voice_dir(voice) / args.condition
            queries = read_queries(folder / "queries.jsonl")[3 :: args.every]
            errors = words = 0
            t0 = time.perf_counter()
            for q in queries:
                e, n = word_errors(q.text, transcribe(decoder, load_audio(q.audio)))
                errors, words = errors + e, words + n
            cells.append(f"{voice} WER {errors / words:.2f}, {(time.perf_counter() - t0) / len(queries):.2f} s/query")
        print(f"{name} ({len(queries)} queries per voice): " + "; ".join(cells), flush=True)


if __name__ == "__main__":
    main()
