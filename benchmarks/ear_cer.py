"""How well does the student hear? Character error rate of its training-only CTC head, greedy-decoded, on the
benchmark's spoken test queries, per voice and condition, for one or more checkpoints side by side.

No transcript is used at run time; this is a diagnostic of the encoder (DESIGN.md: the voice gap between the
training voices and the held-out neural voice is what keeps s2r from working). Writes the `ear-cer` section of
benchmarks/RESULTS.md. Run: .venv/bin/python benchmarks/ear_cer.py CHECKPOINT [CHECKPOINT ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from s2r_edge.model import CHARS, StreamingEncoder, load_checkpoint, text_to_labels
from s2r_edge.texts import read_queries
from s2r_edge.train import collate

from eval_bench import add_cell_args, make_audio, test_queries
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


def cer(encoder: StreamingEncoder, queries: Path) -> float:
    """Total edits / total reference characters over the queries (the CTC targets' characters: lower-cased letters,
    apostrophe and single spaces)."""
    edits = chars = 0
    for q in read_queries(queries):
        wav, _ = collate([sf.read(q.audio, dtype="float32")[0]], encoder.cfg.hop * encoder.cfg.stack)
        with torch.no_grad():
            _, logp = encoder(wav)
        ref = "".join(CHARS[i - 1] for i in text_to_labels(q.text))
        edits, chars = edits + edit_distance(ref, greedy(logp[0])), chars + len(ref)
    return edits / chars


def existing_file(text: str) -> Path:
    """An argparse type: a path to a file that exists (checked before any audio is spoken)."""
    if not Path(text).is_file():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    return Path(text)


def checkpoints_parser(description: str) -> argparse.ArgumentParser:
    """`CHECKPOINT [CHECKPOINT ...]` and the options that pick the cells (voices, conditions, queries)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("checkpoints", nargs="+", type=existing_file)
    add_cell_args(parser, conditions=("clean", "babble@10"))
    return parser


def speak_cells(args: argparse.Namespace) -> list:
    """Speak (or reuse) the test queries of every cell the options pick."""
    torch.set_num_threads(1)
    return make_audio(test_queries(args.every), args.voices.split(","), args.conditions.split(","))


def main() -> None:
    args = checkpoints_parser(__doc__.splitlines()[0]).parse_args()
    cells = speak_cells(args)
    encoders = {str(c): load_checkpoint(c)[0] for c in args.checkpoints}
    rows = []
    for cell in cells:
        rows.append({"voice": cell.voice, "condition": cell.condition,
                     **{name: round(cer(encoder, cell.queries), 3) for name, encoder in encoders.items()}})
        print(json.dumps(rows[-1]), file=sys.stderr)
    n = len(read_queries(cells[0].queries, need_audio=False))
    names = list(encoders)
    table = [f"| voice | condition | {' | '.join(f'`{name}`' for name in names)} |", "|---|---|" + "---|" * len(names)]
    table += [f"| {r['voice']} | {r['condition']} | {' | '.join(f'{r[name]:.3f}' for name in names)} |" for r in rows]
    body = (f"Command: `.venv/bin/python benchmarks/ear_cer.py {' '.join(sys.argv[1:])}`\n\n"
            f"Character error rate of each checkpoint's CTC head (greedy, fp32 eager) on {n} spoken test queries; "
            "lower is better, 1.0 is as many errors as characters.\n\n" + "\n".join(table))
    if args.no_write:
        print(json.dumps(rows))
    else:
        write_section("ear-cer", body)
        print(body)


if __name__ == "__main__":
    main()
