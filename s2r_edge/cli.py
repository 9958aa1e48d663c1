"""The `s2r-edge` command line: build indexes, search by voice, run the demo, and build models.

Results go to stdout (`--json` for machines); progress and logs to stderr. Exit 0 ok, 1 error, 2 usage.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from s2r_edge.errors import S2RError

CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "s2r-edge"


def _print_hits(hits: list, out=sys.stdout) -> None:  # type: ignore[no-untyped-def]
    from s2r_edge.view import hit_lines

    for line in hit_lines(hits):
        print(line, file=out)


def cmd_index_build(args: argparse.Namespace) -> None:
    from dataclasses import replace

    from s2r_edge.index import COMPACT, build_index, default_settings
    from s2r_edge.texts import read_docs

    docs = read_docs(args.docs)
    params, compression = default_settings(len(docs))
    given = {k: v for k, v in (("M", args.M), ("ef_construction", args.ef_construction),
                               ("ef_search", args.ef_search)) if v is not None}
    params = replace(params, **given)
    if args.dim == 0:
        compression = None
    elif args.dim is not None or args.rerank is not None:
        chosen = {k: v for k, v in (("dim", args.dim), ("rerank", args.rerank)) if v is not None}
        compression = replace(compression or COMPACT, **chosen)
    index = build_index(docs, args.out, params, compression=compression)
    _report_index(args, index, "indexed")


def cmd_index_add(args: argparse.Namespace) -> None:
    from s2r_edge.index import add_docs
    from s2r_edge.texts import read_docs

    _report_index(args, add_docs(args.index, read_docs(args.docs)), "added docs; now")


def cmd_index_remove(args: argparse.Namespace) -> None:
    from s2r_edge.index import remove_docs

    ids = [i.strip() for i in args.ids.split(",") if i.strip()]
    if not ids:
        raise S2RError("--ids names no document; give one or more ids separated by commas")
    _report_index(args, remove_docs(args.index, ids), f"removed {len(ids)} docs; now")


def _report_index(args: argparse.Namespace, index, verb: str) -> None:  # type: ignore[no-untyped-def]
    out = getattr(args, "out", None) or args.index
    print(json.dumps({"index": str(out), "count": len(index), "dim": index.dim}) if args.json
          else f"{verb} {len(index)} docs in {out}")


def _parse_where(items: list[str] | None) -> dict | None:
    """`--where key=value` pairs as a filter on doc fields."""
    where = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise S2RError(f"--where {item!r}: expected FIELD=VALUE, e.g. --where domain=settings")
        where[key] = value
    return where or None


def cmd_search(args: argparse.Namespace) -> None:
    from s2r_edge.runtime import Searcher

    result = Searcher.load(args.index, args.model).search_wav(args.audio, k=args.k, where=_parse_where(args.where))
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
        return
    _print_hits(result.hits)
    print(f"end of speech -> hits {result.end_to_hits_ms:.1f} ms; {result.chunks} chunks encoded in "
          f"{result.encode_ms:.1f} ms for {result.audio_s:.1f} s of audio")


def demo_index() -> Path:
    """The bundled demo corpus indexed in the user cache (rebuilt when missing, stale or damaged)."""
    from s2r_edge.index import ensure_index
    from s2r_edge.texts import DEMO_DOCS, read_docs

    return ensure_index(read_docs(DEMO_DOCS), CACHE_DIR / "demo-index")


def cmd_demo(args: argparse.Namespace) -> None:
    import soundfile as sf

    from s2r_edge.runtime import Searcher
    from s2r_edge.texts import DEMO_PROMPTS, read_texts
    from s2r_edge.voices import Voice

    searcher = Searcher.load(args.index or demo_index(), args.model)
    voice = Voice.parse(args.voice)
    info = searcher.encoder.info
    print(f"model {searcher.encoder.path.name} v{info.model_version} ({info.chunk_samples / info.sample_rate * 1000:.0f} ms "
          f"chunks) · index of {len(searcher.index)} docs · queries spoken by {voice.spec}\n")
    latencies = []
    with tempfile.TemporaryDirectory() as tmp:
        for text in read_texts(args.prompts or DEMO_PROMPTS):
            wav = Path(tmp) / "query.wav"
            sf.write(wav, voice.speak(text), info.sample_rate)
            result = searcher.search_wav(wav, k=args.k)
            latencies.append(result.end_to_hits_ms)
            print(f'"{text}"  ({result.audio_s:.1f} s of speech)')
            _print_hits(result.hits)
            print(f"  end of speech -> hits {result.end_to_hits_ms:.1f} ms · {result.chunks} chunks in "
                  f"{result.encode_ms:.1f} ms\n")
    print(f"latency: end of speech -> top-{args.k} hits, median {statistics.median(latencies):.1f} ms "
          f"over {len(latencies)} queries (int8 ExecuTorch, CPU)")


def cmd_listen(args: argparse.Namespace) -> None:
    import threading

    from s2r_edge.endpoint import VadConfig
    from s2r_edge.mic import NO_DEVICE_FIX, Listener, ListenConfig, MicSource, WavSource, list_inputs
    from s2r_edge.runtime import Searcher
    from s2r_edge.view import LiveView, PlainView, summary_line

    if args.list_devices:
        print("\n".join(list_inputs()) or f"no input devices; {NO_DEVICE_FIX}")
        return
    if args.wav and (args.device or args.rate):
        raise S2RError("--wav replays a file: leave out --device and --rate")
    if args.fast and not args.wav:
        raise S2RError("--fast only applies to --wav")
    if args.timeout is not None and args.timeout <= 0:
        raise S2RError(f"--timeout must be positive, got {args.timeout:g}")
    cfg = ListenConfig(k=args.k, queue_blocks=args.queue_blocks, push_to_talk=args.push_to_talk,
                       vad=VadConfig(threshold_db=args.threshold_db, hangover_ms=args.hangover_ms))
    source = WavSource(args.wav, realtime=not args.fast) if args.wav else MicSource(args.device, args.rate)
    listener = Listener(Searcher.load(args.index or demo_index(), args.model), source, cfg)
    view = PlainView() if args.json or not sys.stdout.isatty() else LiveView()
    listener.start()
    print(f"listening on {source.name} at {source.rate} Hz; "
          + ("press Enter to start and to end each query" if args.push_to_talk else "speak a query")
          + ("" if args.once else "; Ctrl-C to stop"), file=sys.stderr)
    if args.push_to_talk:
        threading.Thread(target=lambda: [listener.toggle() for _ in sys.stdin], daemon=True).start()
    on_final = (lambda u: print(json.dumps(u.to_json(), ensure_ascii=False), flush=True)) if args.json else view.final
    summary = listener.run(on_final, view.partial, once=args.once, timeout_s=args.timeout)
    if args.once and not summary.utterances and not summary.interrupted:
        waited = f"in {args.wav}" if args.wav else f"within {args.timeout:g} s"
        raise S2RError(f"no speech heard {waited} on {source.name}; speak louder, lower --threshold-db "
                       f"(now {args.threshold_db:g} dB), or pick another --device")
    print(summary_line(summary), file=sys.stderr)
    if args.json and not args.once:
        print(json.dumps({"summary": summary.to_json()}))


def cmd_synth(args: argparse.Namespace) -> None:
    from s2r_edge.noise import Condition
    from s2r_edge.synth import (
        SynthConfig, babble_pool, condition_queries, load_targets, save_targets, speak_queries, synthesize,
    )
    from s2r_edge.voices import TRAIN_VOICES

    if args.queries:
        if not (args.voice and args.out_dir):
            raise S2RError("--queries needs --voice and --out-dir")
        condition = Condition.parse(args.condition)  # refused before any speech is made
        if condition.kind == "clean":
            print(f"wrote {speak_queries(args.queries, args.voice, args.out_dir)}")
            return
        with tempfile.TemporaryDirectory() as tmp:
            clean = speak_queries(args.queries, args.voice, Path(tmp))
            print(f"wrote {condition_queries(clean, condition, args.out_dir, babble_pool())}")
        return
    voices = tuple(args.voices.split(",")) if args.voices else TRAIN_VOICES
    cfg = SynthConfig(voices=voices, voices_per_text=args.voices_per_text, seed=args.seed, workers=args.workers)
    if args.from_targets:
        texts, targets = load_targets(args.from_targets)
    else:
        texts, targets = training_texts(args), None
    if args.targets_out:
        save_targets(texts, args.targets_out)
        print(f"wrote {args.targets_out}: {len(texts)} texts with teacher vectors")
        return
    if not args.out:
        raise S2RError("say where to write the dataset with --out (or --targets-out for texts only)")
    data = synthesize(texts, cfg, targets)
    data.save(Path(args.out))
    hours = len(data.audio) / 16000 / 3600
    print(f"wrote {args.out}: {len(data)} utterances of {len(data.texts)} texts, {hours:.2f} h of speech")


def training_texts(args: argparse.Namespace) -> list[str]:
    """Bundled app texts, extra files, WordNet sentences, fortunes and Ding sentences, each once, minus test/dev
    query texts and their near copies."""
    import random

    from s2r_edge.texts import (
        bundled_training_texts, ding_sentences, fortune_sentences, held_out_texts, near_copies, normalise,
        read_texts, wordnet_sentences,
    )

    texts = [] if args.no_bundled else bundled_training_texts()
    for path in args.texts or []:
        texts += read_texts(path)
    sources = ((args.wordnet, wordnet_sentences), (args.fortunes, fortune_sentences), (args.ding, ding_sentences))
    for n, source in sources:
        if n:
            pool = source()
            texts += random.Random(args.seed).sample(pool, min(n, len(pool)))
    held = held_out_texts()
    banned = held | {normalise(t) for _, t in near_copies(held, texts)}
    kept, seen = [], set(banned)
    for t in texts:
        if (key := normalise(t)) not in seen:
            seen.add(key)
            kept.append(t)
    if len(kept) < len(texts):
        print(f"dropped {len(texts) - len(kept)} texts that are repeats or (near copies of) test or dev queries",
              file=sys.stderr)
    return kept


def cmd_eval(args: argparse.Namespace) -> None:
    from s2r_edge.evaluate import check_labels, evaluate
    from s2r_edge.runtime import Searcher
    from s2r_edge.texts import read_queries

    queries = read_queries(args.queries)
    searcher = Searcher.load(args.index, args.model)
    check_labels(queries, searcher, args.queries)
    scores = evaluate(searcher, queries, tuple(s.strip() for s in args.systems.split(",") if s.strip()))
    if args.json:
        print(json.dumps({"queries": len(queries), "systems": {k: v.to_json() for k, v in scores.items()}}))
        return
    print(f"{'system':<12} {'MRR@10':>7} {'R@1':>6} {'R@10':>6} {'p50 ms':>8} {'p90 ms':>8}   ({len(queries)} queries)")
    for name, sc in scores.items():
        print(f"{name:<12} {sc.mrr10:7.3f} {sc.r1:6.3f} {sc.r10:6.3f} {sc.latency_ms_p50:8.2f} {sc.latency_ms_p90:8.2f}")


def cmd_bench(args: argparse.Namespace) -> None:
    from s2r_edge.bench import BenchConfig, run_bench

    result = run_bench(args.index or demo_index(), args.model, BenchConfig(threads=args.threads))
    if args.json:
        print(json.dumps(result))
        return
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")


def cmd_train(args: argparse.Namespace) -> None:
    from s2r_edge.model import ModelConfig
    from s2r_edge.losses import DocTargets
    from s2r_edge.train import TrainConfig, train

    if args.ctc_weight is not None and not args.ctc_weight >= 0:
        raise S2RError(f"--ctc-weight must be 0 or more (0 leaves the ear untaught), got {args.ctc_weight:g}")
    if not args.doc_weight >= 0:
        raise S2RError(f"--doc-weight must be 0 or more (0 turns the retrieval term off), got {args.doc_weight:g}")
    if args.doc_weight == 0 and (args.docs or args.doc_queries):
        raise S2RError("--docs and --doc-queries feed the retrieval term, which is off: add --doc-weight W (e.g. 1)")
    if args.vocab < 0 or not 0 < args.bag_dim <= 1024 or not args.piece_weight >= 0:
        raise S2RError(f"--vocab must be 0 (attention pooling) or more, --bag-dim 1 to 1024 and --piece-weight 0 or "
                       f"more; got {args.vocab}, {args.bag_dim} and {args.piece_weight:g}")
    if args.epochs < 0:
        raise S2RError(f"--epochs must be 0 (write the student as it starts) or more, got {args.epochs}")
    if not args.checkpoint_minutes >= 0:
        raise S2RError(f"--checkpoint-minutes must be 0 (after every step) or more, got {args.checkpoint_minutes:g}")
    if not (args.read_weight > 0 and args.read_batch > 0):
        raise S2RError(f"--read-weight and --read-batch must be above 0 (leave out --read-texts for no reading "
                       f"lessons), got {args.read_weight:g} and {args.read_batch}")
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, device=args.device, seed=args.seed,
                      workers=args.workers, spec_augment=not args.no_spec_augment, doc_weight=args.doc_weight,
                      bank=args.bank,
                      read_weight=args.read_weight, read_layer=args.read_layer, read_batch=args.read_batch,
                      piece_weight=args.piece_weight, checkpoint_minutes=args.checkpoint_minutes,
                      **({} if args.ctc_weight is None else {"ctc_weight": args.ctc_weight}))
    docs = DocTargets.load(args.docs, args.doc_queries) if args.doc_weight > 0 else None
    budget = None if args.time_budget is None else args.time_budget * 60
    if not args.mean_norm >= 0:
        raise S2RError(f"--mean-norm must be 0 (off) or a positive weight in frames (e.g. 50), got {args.mean_norm:g}")
    model_cfg = ModelConfig(dim=args.dim, vocab=args.vocab, bag_dim=args.bag_dim, bag_phases=args.bag_phases,
                            mean_norm=args.mean_norm)
    if train(args.data, args.out, cfg, model_cfg, time_budget_s=budget, init=args.init,
             docs=docs, read_texts=args.read_texts) is not None:
        print(f"wrote {args.out}")


def cmd_export(args: argparse.Namespace) -> None:
    from s2r_edge.export.onnx import export_onnx
    from s2r_edge.export.pte import export_pte
    from s2r_edge.model import load_checkpoint

    encoder, _ = load_checkpoint(args.checkpoint)
    out = Path(args.out_dir)
    sizes = {
        "encoder_int8.pte": export_pte(encoder, out / "encoder_int8.pte"),
        "encoder_fp32.pte": export_pte(encoder, out / "encoder_fp32.pte", int8=False),
        "encoder.onnx": export_onnx(encoder, out / "encoder.onnx"),
    }
    for name, size in sizes.items():
        print(f"{out / name}: {size / 1e6:.2f} MB")


def _add_searcher_args(p: argparse.ArgumentParser, demo_default: bool = False) -> None:
    """--index and --model, shared by every command that loads a Searcher; with `demo_default` the index may be
    left out and the bundled demo corpus is used."""
    help_ = "index directory (default: the bundled demo corpus)" if demo_default else "index directory"
    p.add_argument("--index", required=not demo_default, type=Path, default=None, help=help_)
    p.add_argument("--model", type=Path, default=None, help="encoder .pte (default: the shipped int8 model)")


def build_parser() -> argparse.ArgumentParser:
    from s2r_edge.endpoint import VadConfig
    from s2r_edge.index import COMPACT, COMPACT_FROM, COMPACT_HNSW
    from s2r_edge.mic import ListenConfig
    from s2r_edge.voices import DEMO_VOICE

    p = argparse.ArgumentParser(prog="s2r-edge", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    idx = sub.add_parser("index", help="build and edit document indexes").add_subparsers(dest="index_command", required=True)
    b = idx.add_parser("build", help="embed a docs JSONL file with the teacher and write an index directory")
    b.add_argument("--docs", required=True, type=Path, help='JSON Lines: {"id": str, "text": str, ...} per line')
    b.add_argument("--out", required=True, type=Path, help="index directory to write (replaced atomically)")
    auto = (f"default: from {COMPACT_FROM} docs up a compact index ({COMPACT_HNSW.M} links, 4-bit codes of "
            f"{COMPACT.dim} PCA components in RAM, the best {COMPACT.rerank} rescored from disk), else hnswlib's "
            "16 links with all vectors in RAM")
    b.add_argument("--dim", type=int, default=None, help="PCA components in the 4-bit codes that walk the graph "
                   f"(even, up to the teacher's 384); 0 = no codes, all vectors in RAM ({auto})")
    b.add_argument("--rerank", type=int, default=None, help="candidates rescored exactly with the vectors on disk")
    b.add_argument("--M", type=int, default=None, help="HNSW links per node")
    b.add_argument("--ef-construction", type=int, default=None, help="HNSW build beam width")
    b.add_argument("--ef-search", type=int, default=None, help="HNSW query beam width")
    b.add_argument("--json", action="store_true", help="machine-readable output")
    b.set_defaults(func=cmd_index_build)

    a = idx.add_parser("add", help="embed new docs and add them to an index (no rebuild; ids must be new)")
    a.add_argument("--index", required=True, type=Path, help="index directory (rewritten atomically)")
    a.add_argument("--docs", required=True, type=Path, help="JSON Lines of new docs; an id already indexed is an error")
    a.add_argument("--json", action="store_true", help="machine-readable output")
    a.set_defaults(func=cmd_index_add)

    r = idx.add_parser("remove", help="remove docs from an index by id (no rebuild)")
    r.add_argument("--index", required=True, type=Path, help="index directory (rewritten atomically)")
    r.add_argument("--ids", required=True, help="comma-separated doc ids; an unknown id is an error")
    r.add_argument("--json", action="store_true", help="machine-readable output")
    r.set_defaults(func=cmd_index_remove)

    s = sub.add_parser("search", help="search an index with a spoken query file")
    _add_searcher_args(s)
    s.add_argument("--audio", required=True, type=Path, help="query audio (WAV/FLAC, any rate; mono or stereo)")
    s.add_argument("-k", type=int, default=10, help="number of hits (default 10)")
    s.add_argument("--where", action="append", metavar="FIELD=VALUE",
                   help="only docs whose field equals VALUE, e.g. --where domain=settings (repeatable: all must hold)")
    s.add_argument("--json", action="store_true", help="print {hits: [{id, score, text}], ...} as JSON")
    s.set_defaults(func=cmd_search)

    d = sub.add_parser("demo", help="speak the demo queries with a training voice, search the demo corpus")
    _add_searcher_args(d, demo_default=True)
    d.add_argument("--prompts", type=Path, default=None, help="text file, one query per line")
    d.add_argument("--voice", default=DEMO_VOICE, help=f"TTS voice spec (default: {DEMO_VOICE}, a training voice)")
    d.add_argument("-k", type=int, default=3, help="hits shown per query (default 3)")
    d.set_defaults(func=cmd_demo)

    li = sub.add_parser("listen", help="live search from the microphone: partial hits while speaking, final at the end")
    _add_searcher_args(li, demo_default=True)
    li.add_argument("--device", help="input: PortAudio device index or name, or a PulseAudio source (see --list-devices)")
    li.add_argument("--list-devices", action="store_true", help="list the inputs --device takes and exit")
    li.add_argument("--rate", type=int, default=None, help="capture rate in Hz (default: 16000 if the device takes it)")
    li.add_argument("--wav", type=Path, help="replay this file through the same path instead of a microphone")
    li.add_argument("--fast", action="store_true", help="with --wav: replay as fast as possible, not in real time")
    li.add_argument("--once", action="store_true", help="exit after the first utterance")
    li.add_argument("--timeout", type=float, default=None, help="stop listening after this many seconds")
    li.add_argument("--push-to-talk", action="store_true", help="Enter starts and ends each query instead of the VAD")
    li.add_argument("--threshold-db", type=float, default=VadConfig.threshold_db,
                    help=f"VAD: speech is louder than this, in dBFS (default {VadConfig.threshold_db:g})")
    li.add_argument("--hangover-ms", type=int, default=VadConfig.hangover_ms,
                    help=f"VAD: this much quiet ends a query (default {VadConfig.hangover_ms})")
    li.add_argument("--queue-blocks", type=int, default=ListenConfig.queue_blocks,
                    help=f"capture blocks queued before new ones are dropped (default {ListenConfig.queue_blocks})")
    li.add_argument("-k", type=int, default=5, help="hits shown (default 5)")
    li.add_argument("--json", action="store_true", help="one JSON object per utterance: hits, end_to_hits_ms, overflows, ...")
    li.set_defaults(func=cmd_listen)

    sy = sub.add_parser("synth", help="speak training texts with the training voices into a dataset .npz")
    sy.add_argument("--out", type=Path, help="dataset file to write (.npz)")
    sy.add_argument("--targets-out", type=Path, help="write only texts and teacher vectors (.npz), no audio")
    sy.add_argument("--from-targets", type=Path, help="speak the texts of a --targets-out file (no teacher needed)")
    sy.add_argument("--workers", type=int, default=4, help="parallel TTS processes (default 4)")
    sy.add_argument("--texts", action="append", type=Path, help="extra text file (.txt lines or .jsonl 'text'); repeatable")
    sy.add_argument("--wordnet", type=int, default=0, help="add this many WordNet example sentences (default 0)")
    sy.add_argument("--fortunes", type=int, default=0, help="add this many short fortune-cookie quotations (default 0)")
    sy.add_argument("--ding", type=int, default=0, help="add this many everyday example sentences of the Ding "
                    "dictionary (default 0)")
    sy.add_argument("--no-bundled", action="store_true", help="leave out the bundled app-style training texts")
    sy.add_argument("--voices", default=None, help="comma-separated voice specs (default: the training voices)")
    sy.add_argument("--voices-per-text", type=int, default=1, help="voices speaking each text (default 1)")
    sy.add_argument("--seed", type=int, default=0)
    sy.add_argument("--queries", type=Path, help="instead: speak the texts of a queries JSONL file ...")
    sy.add_argument("--voice", help="... with this voice (e.g. piper:joe) ...")
    sy.add_argument("--out-dir", type=Path, help="... into this folder, with a queries.jsonl for `s2r-edge eval`")
    sy.add_argument("--condition", default="clean",
                    help="... under this acoustic condition: clean, reverb, or white|pink|babble@SNR (e.g. babble@10)")
    sy.set_defaults(func=cmd_synth)

    ev = sub.add_parser("eval", help="score spoken queries per system: MRR@10, R@1, R@10, end-of-audio latency")
    _add_searcher_args(ev)
    ev.add_argument("--queries", required=True, type=Path, help='JSON Lines: {"audio", "text", "relevant": [ids]}')
    ev.add_argument("--systems", default="s2r,cascade-asr,cascade-gt", help="comma-separated: s2r, cascade-asr, cascade-gt")
    ev.add_argument("--json", action="store_true", help='print {"systems": {name: metrics}} as JSON')
    ev.set_defaults(func=cmd_eval)

    be = sub.add_parser("bench", help="quick latency and memory bench of the model (about a minute)")
    _add_searcher_args(be, demo_default=True)
    be.add_argument("--threads", type=int, default=1, help="encoder threads (default 1)")
    be.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    be.set_defaults(func=cmd_bench)

    t = sub.add_parser("train", help="distil the streaming student from a synth dataset (resumes if interrupted)")
    t.add_argument("--data", required=True, type=Path, action="append",
                   help="dataset from `s2r-edge synth`; repeat it to train on several as one")
    t.add_argument("--out", required=True, type=Path, help="checkpoint to write (.pt)")
    t.add_argument("--init", type=Path, help="fine-tune this student (.pt) instead of starting from scratch")
    t.add_argument("--epochs", type=int, default=10,
                   help="passes over the data (default 10; 0: write the --init student as it starts, e.g. its bag "
                   "cut to --vocab pieces or paired anew)")
    t.add_argument("--batch-size", type=int, default=48)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--dim", type=int, default=192, help="encoder width")
    t.add_argument("--mean-norm", type=float, default=0.0, metavar="N0",
                   help="subtract from each log-mel frame the running, speech-weighted mean of the utterance's frames "
                   "so far, started from N0 frames of the global mean (e.g. 50; default 0: off; new students only)")
    t.add_argument("--vocab", type=int, default=0, metavar="K",
                   help="pool through a bag of the K most frequent teacher wordpieces of the training texts instead "
                   "of attention pooling (with --init: a new bag head on its body); default 0: attention pooling")
    t.add_argument("--bag-dim", type=int, default=128, help="width of the bag head's piece vectors (default 128)")
    t.add_argument("--bag-phases", type=int, choices=(1, 2), default=2,
                   help="pairings of the frames a bag hears, pooled (default 2: its vector barely moves with where the "
                   "chunks fall; 1: as bags before it); with --init it replaces the student's")
    t.add_argument("--piece-weight", type=float, default=1.0,
                   help="weight of the bag head's wordpiece CTC loss (default 1)")
    t.add_argument("--ctc-weight", type=float, default=None,
                   help="weight of the character CTC loss that teaches the ear (default: TrainConfig's, 0.5)")
    t.add_argument("--no-spec-augment", action="store_true", help="do not mask mel bands and time spans in training")
    t.add_argument("--doc-weight", type=float, default=0.0,
                   help="weight of the retrieval term: spoken known queries pulled to their docs (default 0: off)")
    t.add_argument("--bank", action="store_true",
                   help="contrast each utterance (and reading lesson) with every training text's teacher vector, not "
                   "only the batch's: the near texts a big index confuses count (RESULTS \"A bank of negatives\")")
    t.add_argument("--docs", type=Path, help="the corpus of the retrieval term (default: the demo docs)")
    t.add_argument("--doc-queries", type=Path,
                   help="its labelled training queries (default: the bundled train split); docs' titles count too")
    t.add_argument("--read-texts", type=Path,
                   help="texts without audio for reading lessons beside the speech (from `synth --targets-out`)")
    t.add_argument("--read-weight", type=float, default=1.0, help="weight of the reading lessons (default 1)")
    t.add_argument("--read-layer", type=int, default=4, help="block where the lessons' characters enter (default 4)")
    t.add_argument("--read-batch", type=int, default=64, help="texts per reading lesson, one a step (default 64)")
    t.add_argument("--device", default="auto", help="auto, cpu or cuda")
    t.add_argument("--workers", type=int, default=0, help="DataLoader processes for augmentation (default 0)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--time-budget", type=float, default=None, metavar="MIN",
                   help="stop after the step in which MIN minutes have passed; the same command resumes")
    t.add_argument("--checkpoint-minutes", type=float, default=10.0, metavar="MIN",
                   help="write the resume checkpoint every MIN minutes within an epoch too (default 10); a killed "
                        "run loses at most that much")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("export", help="write the int8 and fp32 ExecuTorch programs and the ONNX model from a checkpoint")
    e.add_argument("--checkpoint", required=True, type=Path, help="checkpoint from `s2r-edge train`")
    e.add_argument("--out-dir", required=True, type=Path, help="folder for encoder_int8.pte, encoder_fp32.pte, encoder.onnx")
    e.set_defaults(func=cmd_export)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except S2RError as exc:
        print(f"s2r-edge: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("s2r-edge: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
