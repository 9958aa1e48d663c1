"""Write what the Android demo ships (the int8 model with its metadata, a demo index) and, with --golden, what
its JVM tests compare against: spoken queries, their query vectors from the real .pte and the hits of
`s2r-edge search --json` for them.

    python android_demo/make_assets.py --out android_demo/app/build/s2r-assets            # app assets
    python android_demo/make_assets.py --out android_demo/core/build/golden --golden      # JVM test inputs
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from s2r_edge.audio import SAMPLE_RATE, load_audio
from s2r_edge.errors import S2RError
from s2r_edge.index import DocIndex, build_index, sha256
from s2r_edge.runtime import DEFAULT_MODEL, PteEncoder, Searcher
from s2r_edge.texts import DEMO_DOCS, DEMO_QUERIES, read_docs, read_queries
from s2r_edge.voices import DEMO_VOICE, Voice

GOLDEN_QUERIES = 8  # demo queries spoken for the golden files, spread over the query list
PAD_SECONDS = 1.0  # background before and after the speech in the endpointing recording
NOISE_DBFS = -60.0  # level of that background (a quiet room, not digital silence)
APP_MODEL = "encoder_int8"  # the app loads model/encoder_int8.pte and the .json beside it, whatever --model was
RANDOM_VECTORS = 200  # random unit queries: near-ties everywhere, so they exercise the graph walk itself


def write_model(model: Path, out: Path) -> PteEncoder:
    """Copy the .pte to `out/model/` with a JSON beside it: the program's constants, its state shapes (which
    the Android Module API cannot read from the program) and its sha256."""
    encoder = PteEncoder(model)
    (out / "model").mkdir(parents=True, exist_ok=True)
    pte = out / "model" / f"{APP_MODEL}.pte"
    shutil.copyfile(model, pte)
    meta = {
        "file": pte.name,
        "sha256": sha256(pte),
        "sample_rate": encoder.info.sample_rate,
        "chunk_samples": encoder.info.chunk_samples,
        "emb_dim": encoder.info.emb_dim,
        "model_version": encoder.info.model_version,
        "teacher": encoder.info.teacher,
        "state_shapes": [list(s) for s in encoder.state_shapes],
    }
    (out / "model" / f"{APP_MODEL}.json").write_text(json.dumps(meta, indent=2) + "\n")
    return encoder


def write_golden(searcher: Searcher, out: Path) -> None:
    """Spoken demo queries as 16-bit WAVs, each with its query vector and hits as `s2r-edge search` gives them;
    random unit vectors with their hnswlib hits; one query between stretches of quiet background with the
    true speech boundaries."""
    golden = out / "golden"
    golden.mkdir(parents=True, exist_ok=True)
    voice = Voice.parse(DEMO_VOICE)
    queries = read_queries(DEMO_QUERIES, need_audio=False)
    step = max(1, len(queries) // GOLDEN_QUERIES)
    lines = []
    for i, query in enumerate(queries[::step][:GOLDEN_QUERIES]):
        wav = golden / f"q{i}.wav"
        sf.write(wav, voice.speak(query.text), SAMPLE_RATE, subtype="PCM_16")
        result = searcher.search_wav(wav, k=10)  # what `s2r-edge search --index DIR --audio WAV --json` prints
        samples = load_audio(wav)  # the samples that search read, to check the Java WAV reader against
        lines.append({"wav": wav.name, "text": query.text, "chunks": result.chunks,
                      "rms": float(np.sqrt(np.mean(samples**2))), "peak": float(np.max(np.abs(samples))),
                      "vector": [float(v) for v in result.embedding], **result.to_json()})
    (golden / "queries.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))

    rng = np.random.default_rng(0)
    with open(golden / "random.jsonl", "w") as f:
        for _ in range(RANDOM_VECTORS):
            vector = rng.standard_normal(searcher.index.dim).astype(np.float32)
            vector /= np.linalg.norm(vector)
            hits = searcher.index.search(vector, k=10)
            f.write(json.dumps({"vector": [float(v) for v in vector], "hits": [h.to_json() for h in hits]}) + "\n")

    speech = voice.speak(queries[0].text)
    pad = int(PAD_SECONDS * SAMPLE_RATE)
    noise = rng.standard_normal(2 * pad + len(speech)).astype(np.float32)
    audio = noise * np.float32(10 ** (NOISE_DBFS / 20))
    audio[pad : pad + len(speech)] += speech
    sf.write(golden / "padded.wav", audio, SAMPLE_RATE, subtype="FLOAT")
    (golden / "padded.json").write_text(json.dumps({"speech_start": pad, "speech_end": pad + len(speech)}) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="folder to fill: model/, index/ (and golden/)")
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="the .pte to ship (default: the shipped int8)")
    p.add_argument("--docs", type=Path, default=DEMO_DOCS, help="docs JSONL to index (default: the demo corpus)")
    p.add_argument("--golden", action="store_true", help="also write the JVM tests' spoken queries and hits")
    args = p.parse_args(argv)
    try:
        encoder = write_model(args.model, args.out)
        build_index(read_docs(args.docs), args.out / "index", progress=False)
        if args.golden:  # searched as the CLI does: the index as loaded back from disk
            write_golden(Searcher(encoder, DocIndex.load(args.out / "index")), args.out)
    except S2RError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
