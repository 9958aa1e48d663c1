"""How well does the student hear? Character error rate of its training-only CTC head, greedy-decoded, on the
benchmark's spoken test (or dev) queries, per voice and condition, for one or more checkpoints side by side.

No transcript is used at run time; this is a diagnostic of the encoder (DESIGN.md: the voice gap between the
training voices and the held-out neural voice is what keeps s2r from working). With `--read`, the teacher also reads
each greedy transcript: how well a perfect reader of that ear could retrieve. Under the table, each later checkpoint
against the first in every cell: the CER difference and its 95% interval from resampling the queries (is it more than
which queries were asked?). Writes the `ear-cer` section of
benchmarks/RESULTS.md (or `--section`). Run: .venv/bin/python benchmarks/ear_cer.py CHECKPOINT [CHECKPOINT ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from s2r_edge.index import DocIndex
from s2r_edge.model import CHARS, StreamingEncoder, load_checkpoint, text_to_labels
from s2r_edge.teacher import embed_texts
from s2r_edge.texts import Query, read_queries
from s2r_edge.train import collate

from eval_bench import (
    DISTRACTORS, INDEXES, QUERY_SPLITS, add_cell_args, bench_index, make_audio, mrr10, query_file,
)
from results import write_section


def greedy(logp: torch.Tensor) -> str:
    """Best symbol per frame, repeats merged, blanks dropped."""
    ids = logp.argmax(-1).tolist()
    return "".join(CHARS[i - 1] for j, i in enumerate(ids) if i and (j == 0 or ids[j - 1] != i))


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two strings."""
    row = np.arange(len(b) + 1)
    for i, ca in enumerate(a, 1):
        prev, row[0] = row.copy(), i
        for j, cb in enumerate(b, 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ca != cb))
    return int(row[-1])


def listen(encoder: StreamingEncoder, query: Query) -> tuple[np.ndarray, torch.Tensor]:
    """The encoder's vector and CTC log-probs for one spoken query, the whole clip at once (the same as streaming
    it)."""
    wav, lengths = collate([sf.read(query.audio, dtype="float32")[0]], encoder.cfg.hop * encoder.cfg.stack)
    with torch.no_grad():
        emb, logp = encoder(wav, lengths)
    return emb[0].numpy(), logp[0]


def transcripts(encoder: StreamingEncoder, queries: list[Query]) -> list[str]:
    """What the CTC head hears in each spoken query (greedy)."""
    return [greedy(listen(encoder, q)[1]) for q in queries]


def edits(queries: list[Query], heard: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each query's edits from what was heard to its reference, and the reference's length in characters (the CTC
    targets' characters: lower-cased letters, apostrophe and single spaces)."""
    refs = ["".join(CHARS[i - 1] for i in text_to_labels(q.text)) for q in queries]
    return np.array(list(map(edit_distance, refs, heard))), np.array(list(map(len, refs)))


def error_rate(wrong: np.ndarray, chars: np.ndarray) -> float:
    """Total edits / total reference characters, from `edits`."""
    return float(wrong.sum() / chars.sum())


def paired_interval(diff: np.ndarray, weight: np.ndarray, draws: int = 10000) -> list[str]:
    """A paired difference between two checkpoints, summed over queries (rows of `diff`, one column per measure) per
    unit of `weight` (a query's characters for CER, 1 for MRR), with its 95% interval from resampling the queries."""
    diff = diff.reshape(len(diff), -1)
    rows = np.random.default_rng(0).integers(len(diff), size=(draws, len(diff)))
    low, high = np.percentile(diff[rows].sum(1) / weight[rows].sum(1)[:, None], [2.5, 97.5], axis=0)
    return [f"{m:+.3f} [{lo:+.3f}, {hi:+.3f}]" for m, lo, hi in zip(diff.sum(0) / weight.sum(), low, high)]


def cer(encoder: StreamingEncoder, queries: Path) -> float:
    """Character error rate of the encoder's CTC head over a spoken queries file."""
    spoken = read_queries(queries)
    return error_rate(*edits(spoken, transcripts(encoder, spoken)))


def existing_file(text: str) -> Path:
    """An argparse type: a path to a file that exists (checked before any audio is spoken)."""
    if not Path(text).is_file():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    return Path(text)


def checkpoints_parser(doc: str) -> argparse.ArgumentParser:
    """`CHECKPOINT [CHECKPOINT ...]` and the options that pick the cells (voices, conditions, queries); the
    description is the first paragraph of `doc`, the calling script's docstring."""
    parser = argparse.ArgumentParser(description=" ".join(doc.split("\n\n")[0].split()))
    parser.add_argument("checkpoints", nargs="+", type=existing_file)
    add_cell_args(parser, conditions=("clean", "babble@10"))
    parser.add_argument("--split", choices=list(QUERY_SPLITS), default="test",
                        help="the queries spoken: the benchmark's test split, or the dev split for choosing")
    return parser


def speak_cells(args: argparse.Namespace) -> list:
    """Speak (or reuse) the queries of the split of every cell the options pick (each split in its own folder)."""
    torch.set_num_threads(1)
    return make_audio(query_file(args.every, args.split), args.voices.split(","), args.conditions.split(","),
                      args.respeak, args.split)


def main() -> None:
    parser = checkpoints_parser(__doc__)
    parser.add_argument("--read", action="store_true", help="also let the teacher read what each ear hears: MRR@10 "
                        "among the app docs and +100k distractors, a bound on any reader of that ear")
    parser.add_argument("--section", default="ear-cer", help="the RESULTS.md section to write")
    args = parser.parse_args()
    cells = speak_cells(args)
    encoders = {str(c): load_checkpoint(c)[0] for c in args.checkpoints}
    indexes = {name: DocIndex.load(bench_index(n)) for name, n in INDEXES.items()} if args.read else {}
    rows, against = [], []
    first, *rest = encoders
    for cell in cells:
        spoken = read_queries(cell.queries)
        rows.append({"voice": cell.voice, "condition": cell.condition})
        wrong = {}
        for name, encoder in encoders.items():
            heard = transcripts(encoder, spoken)
            vectors = embed_texts(heard) if indexes else None
            wrong[name], chars = edits(spoken, heard)
            rows[-1][name] = [round(error_rate(wrong[name], chars), 3),
                              *(round(mrr10(vectors, spoken, index), 3) for index in indexes.values())]
        if rest:
            against.append(f"| {cell.voice} | {cell.condition} | "
                           f"{' | '.join(paired_interval(wrong[name] - wrong[first], chars)[0] for name in rest)} |")
        print(json.dumps(rows[-1]), file=sys.stderr)
    if rest:
        against = [f"CER against `{first}`: the difference [95% interval, queries resampled]", "",
                   f"| voice | condition | {' | '.join(f'`{name}`' for name in rest)} |",
                   "|---|---|" + "---|" * len(rest), *against]
        print("\n".join(against), file=sys.stderr)
    n = len(read_queries(cells[0].queries, need_audio=False))
    read = (" / MRR@10 of the teacher reading that greedy transcript, among the app docs alone / among the app docs "
            f"+{DISTRACTORS // 1000}k distractors (what a perfect reader of this ear could reach)") if indexes else ""
    publish(args, rows, list(encoders), f"Each cell: character error rate of the checkpoint's CTC head (greedy, fp32 "
            f"eager; lower is better, 1.0 is as many errors as characters){read}; {n} spoken {args.split} queries.",
            "\n".join(against))


def publish(args: argparse.Namespace, rows: list[dict], names: list[str], legend: str, footer: str = "") -> None:
    """A table of `rows` (a row per voice and condition, a column of numbers per checkpoint in `names`) under the
    command and `legend`, then `footer`: into the RESULTS.md section `args.section`, or only the JSON with
    `--no-write`."""
    table = [f"| voice | condition | {' | '.join(f'`{name}`' for name in names)} |", "|---|---|" + "---|" * len(names)]
    table += [f"| {r['voice']} | {r['condition']} | "
              f"{' | '.join(' / '.join(f'{v:.3f}' for v in r[name]) for name in names)} |" for r in rows]
    body = (f"Command: `.venv/bin/python benchmarks/{Path(sys.argv[0]).name} {' '.join(sys.argv[1:])}`\n\n"
            f"{legend}\n\n" + "\n".join(table) + (f"\n\n{footer}" if footer else ""))
    if args.no_write:
        print(json.dumps(rows))
    else:
        write_section(args.section, body)
        print(body)


if __name__ == "__main__":
    main()
