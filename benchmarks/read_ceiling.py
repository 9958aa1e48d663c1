"""Reading against hearing: the student's own body (its causal blocks, pooling and projection) fed a transcript's
characters instead of sound, and taught with the training texts alone, as the student is (cosine + InfoNCE to the
teacher). It bounds what a student of that width, taught with those texts, can reach even with perfect hearing.

Each run is a width and a share of the training texts, and may hold each character for several frames (as speech
does) or give the blocks other dilations; or it is the bag head (`--bags`), which reads the teacher's wordpieces of
the transcript through its table of piece vectors. Scored on the transcripts of the dev queries (for choosing) and
of the benchmark's test queries (for reporting), among the app docs alone and among the app docs plus 100,000
distractors, beside the teacher on the same transcripts (cascade-gt).
Writes the `read-ceiling` section of benchmarks/RESULTS.md (or `--section`). Run: .venv/bin/python
benchmarks/read_ceiling.py --help
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from s2r_edge.errors import S2RError
from s2r_edge.index import DocIndex
from s2r_edge.losses import DocTargets, doc_loss, teacher_loss
from s2r_edge.model import ModelConfig, StreamingEncoder, WordBag, n_params
from s2r_edge.reading import Reading, held_chars
from s2r_edge.synth import load_targets
from s2r_edge.teacher import embed_texts
from s2r_edge.texts import DEMO_QUERIES, DEV_QUERIES, read_queries
from s2r_edge.train import TrainConfig, dev_texts, one_cycle
from s2r_edge.wordpieces import encode, padded, start_head

from ear_cer import existing_file
from eval_bench import INDEXES, bench_index, mrr10, positive_int
from results import write_section

QUERY_SETS = {"dev": DEV_QUERIES, "test": DEMO_QUERIES}  # choose on dev, report test


class Reader(nn.Module):
    """Characters -> an embedding per character -> the student's blocks, pooling and projection -> query vector: the
    path of `train`'s reading lessons, entering at the first block."""

    def __init__(self, run: Run, dropout: float) -> None:
        super().__init__()
        self.hold = run.hold
        self.reading = Reading(run.width, 0)
        self.student = StreamingEncoder(ModelConfig(dim=run.width, dilations=run.dilations), dropout)

    def inputs(self, texts: list[str]) -> torch.Tensor:
        """Texts as the reader takes them: `char_ids` rows."""
        return char_ids(texts, self.hold)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """ids (B, L), 0-padded (`char_ids`) -> unit vectors (B, emb_dim)."""
        return self.reading(self.student, ids)

    def n_params(self) -> int:
        """Parameters of the part a speech student shares (blocks, pooling, projection): no front end, no CTC."""
        unused = (self.student.frontend, self.student.inp, self.student.ctc)
        return n_params(self.student) - sum(n_params(m) for m in unused)


class BagReader(nn.Module):
    """The bag head of a student that hears every wordpiece for certain: the transcript's pieces -> their vectors'
    mean -> projection (`WordBag.read`)."""

    def __init__(self, run: BagRun, texts: list[str]) -> None:
        super().__init__()
        self.head = WordBag(ModelConfig(vocab=run.vocab, bag_dim=run.dim))
        start_head(self.head, texts)

    def inputs(self, texts: list[str]) -> torch.Tensor:
        """Texts as the head's piece ids, 0-padded."""
        return padded(encode(self.head, texts))

    def forward(self, pieces: torch.Tensor) -> torch.Tensor:
        return self.head.read(pieces)

    def n_params(self) -> int:
        """Parameters of the table and projection (the classifier's input layer belongs to the ear)."""
        return n_params(self.head) - n_params(self.head.inp)


def char_ids(texts: list[str], hold: int = 1) -> torch.Tensor:
    """`held_chars` rows with every character held `hold` frames: held 1, the blocks see about three times as many
    characters of a text as of the same text spoken."""
    return held_chars(texts, lambda n: np.full(n, hold))


@torch.no_grad()
def embed(reader: Reader | BagReader, texts: list[str], batch: int = 256) -> np.ndarray:
    """The reader's unit vectors of `texts` (eval mode: no dropout)."""
    reader.eval()
    return torch.cat([reader(reader.inputs(texts[i : i + batch])) for i in range(0, len(texts), batch)]).numpy()


@dataclass(frozen=True)
class Run:
    """A reader width, the share of the training texts it is taught with, how many frames each character is held
    and the blocks' dilations (the student's by default)."""

    width: int
    share: float = 1.0
    hold: int = 1
    dilations: tuple[int, ...] = ModelConfig.dilations

    @classmethod
    def parse(cls, text: str) -> Run:
        """`W[@S][:hH][:dD-D-...]`: width W, share S in (0, 1] (default all), each character held H frames (default 1),
        the blocks' dilations (default the student's), e.g. `128@0.5:h3:d1-2-4-8-16-1-2-4`."""
        head, *opts = text.split(":")
        width, _, share = head.partition("@")
        try:
            run = cls(int(width), float(share) if share else 1.0)
            for opt in opts:
                if opt[:1] == "h":
                    run = replace(run, hold=int(opt[1:]))
                elif opt[:1] == "d":
                    run = replace(run, dilations=tuple(int(d) for d in opt[1:].split("-")))
                else:
                    raise ValueError(opt)
        except ValueError:
            run = cls(0)
        if run.width < 8 or not 0 < run.share <= 1 or run.hold < 1 or min(run.dilations) < 1:
            raise argparse.ArgumentTypeError(f"expected WIDTH[@SHARE][:hHOLD][:dD-D-...] (e.g. 128@0.25 or "
                                             f"128:h3:d1-2-4-8-16-1-2-4), got {text!r}")
        return run

    def __str__(self) -> str:
        return f"{self.width}@{self.share:g}:h{self.hold}:d{'-'.join(map(str, self.dilations))}"

    def texts(self, n_train: int) -> int:
        """How many of `n_train` training texts the run is taught with."""
        return round(n_train * self.share)

    def context(self, kernel: int = ModelConfig.kernel) -> float:
        """Characters the blocks see: their receptive field in frames over the frames a character is held."""
        return (1 + sum((kernel - 1) * d for d in self.dilations)) / self.hold

    def build(self, texts: list[str], dropout: float) -> Reader:
        return Reader(self, dropout)

    def describe(self) -> str:
        return (f"conv blocks, width {self.width}, each character held {self.hold} frames, dilations "
                f"{'-'.join(map(str, self.dilations))} ({self.context():.0f} characters seen)")


@dataclass(frozen=True)
class BagRun:
    """The bag head's reading: its vocabulary (the most frequent wordpieces of the training texts) and the width of
    its piece vectors."""

    vocab: int
    dim: int
    share: float = 1.0

    @classmethod
    def parse(cls, text: str) -> BagRun:
        """`VOCABxDIM`, e.g. `8192x128`."""
        vocab, _, dim = text.partition("x")
        if not (vocab.isdigit() and dim.isdigit() and int(vocab) > 0 and 0 < int(dim) <= 384):
            raise argparse.ArgumentTypeError(f"expected VOCABxDIM with DIM at most 384 (e.g. 8192x128), got {text!r}")
        return cls(int(vocab), int(dim))

    def __str__(self) -> str:
        return f"bag {self.vocab}x{self.dim}"

    def texts(self, n_train: int) -> int:
        return round(n_train * self.share)

    def build(self, texts: list[str], dropout: float) -> BagReader:
        return BagReader(self, texts)

    def describe(self) -> str:
        return f"bag of the {self.vocab:,} most frequent wordpieces, vectors of {self.dim}"


def train_reader(run: Run | BagRun, texts: list[str], targets: np.ndarray, train_idx: list[int],
                 dev_idx: list[int], epochs: int, batch_size: int, cfg: TrainConfig, docs: DocTargets | None = None
                 ) -> tuple[Reader | BagReader, list[float], float]:
    """Teach a reader (with `train`'s retrieval term when `docs` is given and `cfg.doc_weight` > 0); returns it,
    the dev cosine after each epoch and the median seconds per epoch."""
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    idx = rng.sample(train_idx, run.texts(len(train_idx)))
    reader = run.build([texts[i] for i in idx], cfg.dropout)
    opt = torch.optim.AdamW(reader.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = epochs * math.ceil(len(idx) / batch_size)
    sched = one_cycle(opt, cfg.lr, steps)
    target = torch.from_numpy(targets.astype(np.float32))
    bank = (target[train_idx], torch.tensor(train_idx)) if cfg.bank else None  # every training text a negative
    rows = docs.text_rows(np.array(texts)) if docs is not None and cfg.doc_weight > 0 else None
    dev_set = [texts[i] for i in dev_idx]
    dev_cos, seconds = [float((embed(reader, dev_set) * targets[dev_idx]).sum(-1).mean())], []
    for epoch in range(epochs):
        reader.train()
        t0 = time.time()
        order = sorted(idx, key=lambda i: len(texts[i]) + rng.uniform(0, 16))  # similar lengths, little padding
        plan = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        rng.shuffle(plan)
        for batch in tqdm(plan, desc=f"{run} epoch {epoch + 1}/{epochs}", mininterval=10):
            emb = reader(reader.inputs([texts[i] for i in batch]))
            cos, nce = teacher_loss(emb, target[batch], torch.tensor(batch), cfg.temperature, bank)
            loss = (1 - cos).mean() + cfg.contrastive_weight * nce
            if rows is not None:
                loss = loss + cfg.doc_weight * doc_loss(emb, rows[batch], docs, cfg.temperature)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        seconds.append(time.time() - t0)
        dev_cos.append(float((embed(reader, dev_set) * targets[dev_idx]).sum(-1).mean()))
        print(f"{run} epoch {epoch + 1}: dev cosine {dev_cos[-1]:.3f}", file=sys.stderr)
    return reader, dev_cos, float(np.median(seconds))


def report(rows: list[dict], teacher: dict[str, dict[str, float]], n_queries: dict[str, int], n_texts: int,
           command: str) -> str:
    """One table row per reader, and the teacher's own row."""
    cells = [(split, name) for split in QUERY_SETS for name in INDEXES]
    lines = ["| reader | texts taught | params | s / epoch | dev cos by epoch | "
             + " | ".join(f"{split} MRR@10, {name}" for split, name in cells) + " |",
             "|---|---|---|---|---|" + "---|" * len(cells)]
    lines += [f"| {r['reader']} | {r['texts']:,} | {r['params'] / 1e6:.2f} M | {r['epoch_s']:.0f} "
              f"| {' → '.join(f'{c:.3f}' for c in r['dev_cos'])} | "
              + " | ".join(f"{r['mrr@10'][split][name]:.3f}" for split, name in cells) + " |" for r in rows]
    lines.append("| teacher (cascade-gt) | - | - | - | 1 | "
                 + " | ".join(f"{teacher[split][name]:.3f}" for split, name in cells) + " |")
    sizes = ", ".join(f"{n} {split}" for split, n in n_queries.items())
    return (f"Command: `{command}`\n\n"
            f"Readers: the student's conv blocks, pooling and projection fed characters (each held for some frames, "
            f"as speech holds one for about 3 of the student's 20 ms frames), or its bag head fed the teacher's "
            f"wordpieces; taught with the training texts alone (cosine + InfoNCE, as the speech student). Params: "
            f"what a speech student shares with the reader. Dev cos: cosine to the teacher on {n_texts:,} held-out "
            f"training texts, before training, then after each epoch. MRR@10 over the transcripts of the queries "
            f"({sizes}), perfectly heard.\n\n" + "\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=existing_file, required=True,
                        help="texts and teacher vectors from `s2r-edge synth --targets-out`")
    parser.add_argument("--runs", nargs="*", type=Run.parse, default=[Run(64), Run(128), Run(256)],
                        help="WIDTH[@SHARE][:hHOLD][:dD-D-...]: width, share of the training texts, frames each "
                        "character is held, blocks' dilations (default: 64 128 256)")
    parser.add_argument("--bags", nargs="*", type=BagRun.parse, default=[],
                        help="VOCABxDIM: bag heads to teach, each after the runs (e.g. 8192x128)")
    parser.add_argument("--epochs", type=positive_int, default=4, help="passes over the texts per run (default 4)")
    parser.add_argument("--batch-size", type=positive_int, default=128, help="texts per step (default 128)")
    parser.add_argument("--section", default="read-ceiling", help="the RESULTS.md section to write "
                        "(another name keeps a comparison beside the main table)")
    parser.add_argument("--doc-weight", type=float, default=0.0, help="weight of `train`'s retrieval term (the "
                        "bundled training queries and titles pulled to their demo docs; default 0: off)")
    parser.add_argument("--bank", action="store_true", help="InfoNCE also against every training text's teacher "
                        "vector, not only the batch's")
    parser.add_argument("--no-write", action="store_true", help="print the JSON, leave RESULTS.md alone")
    args = parser.parse_args()
    try:
        texts, targets = load_targets(args.texts)
    except S2RError as exc:
        parser.error(str(exc))
    cfg = TrainConfig(lr=3e-3, doc_weight=args.doc_weight, bank=args.bank)
    docs = DocTargets.load() if args.doc_weight > 0 else None
    dev = dev_texts(len(texts), cfg.dev_fraction, cfg.seed)
    train_idx, dev_idx = [i for i in range(len(texts)) if i not in dev], sorted(dev)
    queries = {split: read_queries(path, need_audio=False) for split, path in QUERY_SETS.items()}
    indexes = {name: DocIndex.load(bench_index(n)) for name, n in INDEXES.items()}

    def score(vectors_of: Callable[[list[str]], np.ndarray]) -> dict[str, dict[str, float]]:
        """MRR@10 of each query set's transcripts, embedded by `vectors_of`, in each index."""
        out = {}
        for split, qs in queries.items():
            vectors = vectors_of([q.text for q in qs])
            out[split] = {name: mrr10(vectors, qs, index) for name, index in indexes.items()}
        return out

    teacher = score(embed_texts)
    rows = []
    for run in [*args.runs, *args.bags]:
        reader, dev_cos, epoch_s = train_reader(run, texts, targets, train_idx, dev_idx, args.epochs,
                                                args.batch_size, cfg, docs)
        rows.append({"run": str(run), "reader": run.describe(), "texts": run.texts(len(train_idx)),
                     "params": reader.n_params(), "epoch_s": epoch_s, "dev_cos": dev_cos,
                     "mrr@10": score(lambda texts: embed(reader, texts))})
        print(json.dumps(rows[-1]), file=sys.stderr)
    print(json.dumps({"teacher": teacher, "runs": rows}))
    if not args.no_write:
        command = " ".join([".venv/bin/python benchmarks/read_ceiling.py", *sys.argv[1:]])
        counts = {split: len(qs) for split, qs in queries.items()}
        write_section(args.section, report(rows, teacher, counts, len(dev_idx), command))
        print(f"wrote the {args.section} section of benchmarks/RESULTS.md", file=sys.stderr)


if __name__ == "__main__":
    main()
