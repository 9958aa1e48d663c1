"""Distillation: teach the streaming student to put speech where the text teacher puts its transcript.

The loss is `losses.distill_loss` (cosine, InfoNCE, character CTC; a bag head's wordpiece CTC; an optional retrieval
term against a corpus's docs), and optionally every step also gives a reading lesson (`reading`): texts without audio.
Audio is augmented on the fly: gain, leading silence, reverberation, white/pink/babble noise, band-limiting.
A run can start from an earlier student (`init`) to fine-tune it on new speech.
Checkpoints after every epoch and every few minutes within one; a rerun with the same `out` resumes from the last
(also after a time budget), exactly where the interrupted run was: the same batches, lessons and random draws.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import itertools
import math
import random
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from tqdm import tqdm

from s2r_edge.errors import S2RError
from s2r_edge.losses import DocTargets, distill_loss, text_bank
from s2r_edge.model import ModelConfig, StreamingEncoder, load_checkpoint, n_params, save_checkpoint, text_to_labels
from s2r_edge.noise import NOISE_KINDS, Condition, band_limit, reverberate
from s2r_edge.reading import Reading, read_loss, reading_texts
from s2r_edge.synth import SpeechSet
from s2r_edge.wordpieces import coverage, encode, start_head


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and augmentation settings."""

    epochs: int = 10
    batch_size: int = 48
    lr: float = 2e-3
    weight_decay: float = 0.01
    temperature: float = 0.05  # InfoNCE softmax temperature
    contrastive_weight: float = 1.0
    bank: bool = False  # InfoNCE also against every training text's teacher vector, not only the batch's
    doc_weight: float = 0.0  # weight of the retrieval term against the corpus's docs (0: off; needs `DocTargets`)
    ctc_weight: float = 0.5
    read_weight: float = 1.0  # weight of the reading lessons, when texts for them are given
    read_layer: int = 4  # the block where the lessons' characters enter, in place of what the lower blocks heard
    read_batch: int = 64  # texts per reading lesson, one lesson beside every speech batch
    piece_weight: float = 1.0  # weight of the wordpiece CTC loss of a bag head (`ModelConfig.vocab` > 0)
    dropout: float = 0.1
    spec_augment: bool = True  # mask random mel bands and time spans of every training utterance
    noise_prob: float = 0.5  # share of utterances that get white, pink or babble noise
    reverb_prob: float = 0.2  # share of utterances spoken in a synthetic reverberant room
    band_prob: float = 0.2  # share of utterances band-limited (a phone line, a cheap microphone)
    band_hz: tuple[tuple[float, float], tuple[float, float]] = ((100.0, 400.0), (3000.0, 7000.0))  # low, high edges
    snr_db: tuple[float, float] = (0.0, 30.0)
    gain_db: tuple[float, float] = (-18.0, 6.0)
    max_lead_s: float = 0.5  # random leading silence
    dev_fraction: float = 0.05  # texts held out to report generalisation
    seed: int = 0
    device: str = "auto"  # cuda when available, else cpu
    workers: int = 0  # DataLoader processes preparing augmented batches (0: in the training process)
    checkpoint_minutes: float = 10.0  # how often the resume checkpoint is also written within an epoch


def augment(wav: np.ndarray, cfg: TrainConfig, rng: np.random.Generator, babble_pool: list[np.ndarray] = (),
            sample_rate: int = 16000) -> np.ndarray:
    """Leading silence, sometimes a reverberant room, additive white/pink/babble noise at a random SNR,
    sometimes a narrower band, then a random gain."""
    lead = np.zeros(int(rng.uniform(0, cfg.max_lead_s) * sample_rate), dtype=np.float32)
    wav = np.concatenate([lead, wav])
    if rng.random() < cfg.reverb_prob:
        wav = reverberate(wav, rng, rt60_s=rng.uniform(0.2, 0.9))
    if rng.random() < cfg.noise_prob:
        kinds = NOISE_KINDS if len(babble_pool) >= 4 else NOISE_KINDS[:2]
        wav = Condition(str(rng.choice(kinds)), rng.uniform(*cfg.snr_db)).apply(wav, rng, babble_pool)
    if rng.random() < cfg.band_prob:
        wav = band_limit(wav, rng.uniform(*cfg.band_hz[0]), rng.uniform(*cfg.band_hz[1]))
    wav = wav * 10 ** (rng.uniform(*cfg.gain_db) / 20)
    return np.clip(wav, -1, 1).astype(np.float32)


def collate(wavs: list[np.ndarray], multiple: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad to a common length, a multiple of `multiple` samples."""
    n = max(len(w) for w in wavs)
    n = -(-n // multiple) * multiple
    out = np.zeros((len(wavs), n), dtype=np.float32)
    for i, w in enumerate(wavs):
        out[i, : len(w)] = w
    return torch.from_numpy(out), torch.tensor([len(w) for w in wavs])


def batches(indices: list[int], lengths: np.ndarray, size: int, rng: random.Random, jitter: float = 8000
            ) -> list[list[int]]:
    """Batches of similar length (less padding; lengths within `jitter` mix), in random order."""
    order = sorted(indices, key=lambda i: lengths[i] + rng.random() * jitter)
    out = [order[i : i + size] for i in range(0, len(order), size)]
    rng.shuffle(out)
    return out


class AugmentedBatches(torch.utils.data.Dataset):
    """Batch i of `plan`, augmented and padded; a Dataset so DataLoader workers can prepare batches in parallel."""

    def __init__(self, data: SpeechSet, plan: list[list[int]], cfg: TrainConfig, multiple: int, epoch: int) -> None:
        self.data, self.plan, self.cfg, self.multiple, self.epoch = data, plan, cfg, multiple, epoch

    def __len__(self) -> int:
        return len(self.plan)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng((self.cfg.seed, self.epoch, i))
        batch = self.plan[i]
        pool = [self.data.wav(int(j)) for j in rng.integers(len(self.data), size=6)]  # other talkers for babble
        wavs = [augment(self.data.wav(j), self.cfg, rng, pool) for j in batch]
        wav, lens = collate(wavs, self.multiple)
        return wav, lens, torch.from_numpy(self.data.text_ids[batch].astype(np.int64))


def lesson_batches(texts: list[str], size: int, rng: random.Random, skip: int = 0) -> Iterator[list[int]]:
    """The reading lessons' batches, one a step without end, from the `skip`-th on: texts of similar length (as
    `batches`, by characters), in random order, a new plan whenever one is used up."""
    lengths = np.array([len(t) for t in texts])
    plans = (batches(list(range(len(texts))), lengths, size, rng, jitter=16) for _ in itertools.count())
    return itertools.islice((batch for plan in plans for batch in reversed(plan)), skip, None)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, looked up once (finding the C library runs `ldconfig`); None on other C libraries."""
    name = ctypes.util.find_library("c")
    return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None


def release_freed_memory() -> None:
    """Hand the heap's freed pages back to the OS (glibc only). Batches of ever-changing shapes fragment glibc's heap:
    a 2-core run on all the speech sets grew past 14 GB and was killed for memory."""
    if trim := _malloc_trim():
        trim(0)


def one_cycle(opt: torch.optim.Optimizer, lr: float, steps: int) -> torch.optim.lr_scheduler.OneCycleLR:
    """The learning-rate schedule: warm up to `lr` over the first 10% of `steps`, then anneal. torch divides by
    (warm-up steps - 1), so a run of exactly 10 steps warms up over 2."""
    warm = 0.2 if steps == 10 else 0.1
    return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=warm)


def set_norm(encoder: StreamingEncoder, data: SpeechSet, n: int = 200) -> None:
    """Set the front end's log-mel mean/std from `n` training utterances (fixed, so it streams)."""
    fe = encoder.frontend
    fe.mean.zero_()
    fe.std.fill_(1.0)
    with torch.no_grad():
        mels = [fe(torch.from_numpy(data.wav(i))[None, :]).reshape(-1, fe.mean.numel()) for i in range(min(n, len(data)))]
    mel = torch.cat(mels)
    fe.mean.copy_(mel.mean(0))
    fe.std.copy_(mel.std(0).clamp(min=1e-3))


def split_by_text(data: SpeechSet, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Utterance indices for train and dev, split by text so dev texts are unseen."""
    dev_ids = dev_texts(len(data.texts), fraction, seed)
    train = [i for i in range(len(data)) if data.text_ids[i] not in dev_ids]
    dev = [i for i in range(len(data)) if data.text_ids[i] in dev_ids]
    return train, dev


def dev_texts(n_texts: int, fraction: float, seed: int) -> set[int]:
    """The ids of the texts held out for dev: a seeded `fraction` of them, at least one."""
    return set(random.Random(seed).sample(range(n_texts), max(1, int(n_texts * fraction))))


def new_student(model_cfg: ModelConfig, data: SpeechSet, seen: list[str], init: str | Path | None = None
                ) -> tuple[StreamingEncoder, dict]:
    """The student a run starts from, and what it carries over (its reading lessons' characters, as "reading"):
    `init`'s weights to fine-tune (of `model_cfg` only a bag head is then used), else a new student whose front end
    is normalised on `data`. With `model_cfg.vocab`, a new bag head on the body, its wordpieces the most frequent in
    the `seen` texts. A bag on `init` keeps its `model_cfg.vocab` commonest pieces (all of them if 0; more is refused)
    and takes `model_cfg`'s phases (`ModelConfig.bag_phases`)."""
    if init is not None:  # its weights, and the characters of its reading lessons if it had some; no optimizer
        encoder, init_ckpt = load_checkpoint(Path(init))
        ckpt = {"reading": init_ckpt["reading"]} if "reading" in init_ckpt else {}
        if model_cfg.mean_norm and model_cfg.mean_norm != encoder.cfg.mean_norm:
            raise S2RError(f"{init} was trained with mean_norm {encoder.cfg.mean_norm:g}, and a fine-tune keeps its "
                           f"front end: leave out the running mean norm's prior, or start from scratch")
    else:
        encoder, ckpt = StreamingEncoder(replace(model_cfg, vocab=0)), {}  # a bag head, if asked for, comes below
        set_norm(encoder, data)
    if model_cfg.vocab > encoder.cfg.vocab > 0:
        raise S2RError(f"{init} pools through a bag of {encoder.cfg.vocab} wordpieces, fewer than the "
                       f"{model_cfg.vocab} asked for: leave out the vocabulary size to go on with it, or give a smaller one")
    if model_cfg.vocab and not encoder.cfg.vocab:  # a new bag head on the body
        body = {k: v for k, v in encoder.state_dict().items() if not k.startswith("head.")}
        encoder = StreamingEncoder(replace(encoder.cfg, vocab=model_cfg.vocab, bag_dim=model_cfg.bag_dim,
                                           bag_phases=model_cfg.bag_phases))
        encoder.load_state_dict(body, strict=False)
        ckpt = {}
        start_head(encoder.head, seen)
    elif encoder.cfg.vocab:  # init's bag: its commonest `model_cfg.vocab` pieces (the table's first rows), paired anew
        keep = model_cfg.vocab or encoder.cfg.vocab
        weights = encoder.state_dict()
        for name, rows in (("head.token_ids", keep), ("head.table", keep + 1), ("head.bias", keep + 1)):
            weights[name] = weights[name][:rows]
        encoder = StreamingEncoder(replace(encoder.cfg, vocab=keep, bag_phases=model_cfg.bag_phases))
        encoder.load_state_dict(weights)
    return encoder, ckpt


def train(
    data_path: str | Path | list[str | Path],
    out: str | Path,
    cfg: TrainConfig = TrainConfig(),
    model_cfg: ModelConfig = ModelConfig(),
    time_budget_s: float | None = None,
    init: str | Path | None = None,
    docs: DocTargets | None = None,
    read_texts: str | Path | None = None,
) -> StreamingEncoder | None:
    """Train (or resume) a student on the dataset at `data_path` (or on several, as one) and write it to `out`:
    from the student at `init` if given, else from scratch (`new_student`; a new bag head takes the wordpieces most
    frequent in the training texts, the reading lessons' too). With `docs` and `cfg.doc_weight` > 0 the utterances
    of its known queries also learn the retrieval term. With `read_texts` (a `synth --targets-out` file) every step
    also gives a reading lesson of `cfg.read_batch` of its texts.

    The resume checkpoint (`out` with suffix .resume.pt) is written after every epoch and every
    `cfg.checkpoint_minutes` within one. With `time_budget_s`, stop after the step in which the budget runs out and
    return None; the same call continues from the checkpoint (for hosts that lend a GPU ten minutes at a time).
    """
    started = time.time()
    paths = data_path if isinstance(data_path, list) else [data_path]
    data = SpeechSet.concat([SpeechSet.load(path) for path in paths])
    out = Path(out)
    device = torch.device("cuda" if cfg.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if cfg.device == "auto" else cfg.device))
    torch.manual_seed(cfg.seed)
    train_idx, dev_idx = split_by_text(data, cfg.dev_fraction, cfg.seed)
    spoken = np.unique(data.text_ids[train_idx])  # the training texts' ids, each once
    spoken_texts = [str(data.texts[t]) for t in spoken]
    if not train_idx:
        raise S2RError(f"{', '.join(map(str, paths))}: no training utterances")
    lengths = np.diff(data.offsets)
    if cfg.doc_weight > 0 and docs is None:
        raise S2RError("doc_weight > 0 needs the corpus's docs and queries (DocTargets)")
    doc_rows = docs.text_rows(data.texts) if docs is not None and cfg.doc_weight > 0 else None
    docs = docs.to(device) if doc_rows is not None else None
    n_known = 0 if doc_rows is None else int((doc_rows[torch.from_numpy(data.text_ids[train_idx])] >= 0).sum())
    if doc_rows is not None and not n_known:
        raise S2RError(f"none of the training utterances of {', '.join(map(str, paths))} speaks a known query of the "
                       f"docs: speak the queries with `s2r-edge synth --texts QUERIES.jsonl` first")
    steps_per_epoch = math.ceil(len(train_idx) / cfg.batch_size)
    lessons = reading_texts(read_texts, {str(data.texts[data.text_ids[i]]) for i in dev_idx}) if read_texts else None

    resume = out.with_name(out.stem + ".resume.pt")
    start_epoch, start_step, dev_cos = 0, 0, None
    resumed = resume.is_file()
    if resumed and not cfg.epochs:  # it would be written out unfinished and its resume file deleted
        raise S2RError(f"{resume} holds an unfinished run: go on with it with the epochs it was started with, or "
                       f"delete it to write the student as it starts")
    if resumed:  # "epoch": the last one finished (-1: none); "step": batches done of the next
        encoder, ckpt = load_checkpoint(resume)
        start_epoch, start_step, dev_cos = ckpt["epoch"] + 1, ckpt.get("step", 0), ckpt.get("dev_cos")
        print(f"resuming from {resume} at epoch {start_epoch + 1}, step {start_step}", flush=True)
    else:
        encoder, ckpt = new_student(model_cfg, data, spoken_texts + (lessons[0] if lessons else []), init)
    if lessons is not None and not encoder.cfg.vocab and not 0 <= cfg.read_layer < len(encoder.blocks):
        raise S2RError(f"reading lessons enter at block {cfg.read_layer}, but the student has blocks 0 to "
                       f"{len(encoder.blocks) - 1}: give a block of those")
    reading = Reading(encoder.cfg.dim, cfg.read_layer) if lessons is not None and not encoder.cfg.vocab else None
    if resumed and ("reading" in ckpt) != (reading is not None):
        raise S2RError(f"{resume} was written {'with' if 'reading' in ckpt else 'without'} reading lessons: resume "
                       f"it with the same options, or delete it to start again")
    if reading is not None and "reading" in ckpt:
        reading.load_state_dict(ckpt["reading"])
    encoder.to(device)
    for block in encoder.blocks:
        block.drop.p = cfg.dropout
    params = [*encoder.parameters(), *(reading.to(device).parameters() if reading is not None else [])]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    total = cfg.epochs * steps_per_epoch
    sched = one_cycle(opt, cfg.lr, total) if total else None  # no epochs: the student as it starts, written out
    if "optimizer" in ckpt:
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
    if "rng" in ckpt:  # dropout's and SpecAugment's draws go on as if the run had not stopped
        torch.set_rng_state(ckpt["rng"])
        if device.type == "cuda" and "cuda_rng" in ckpt:
            torch.cuda.set_rng_state(ckpt["cuda_rng"])
    print(f"student: {n_params(encoder) / 1e6:.2f} M params; {len(train_idx)} train / {len(dev_idx)} dev "
          f"utterances; device {device}", flush=True)
    if doc_rows is not None:
        print(f"retrieval term: {n_known} training utterances speak a known query of {len(docs.vectors)} docs",
              flush=True)
    if lessons is not None:
        where = "through the bag head" if encoder.cfg.vocab else f"entering at block {cfg.read_layer}"
        print(f"reading lessons: {len(lessons[0])} texts, {cfg.read_batch} a step, {where}", flush=True)
    pieces = encode(encoder.head, [str(t) for t in data.texts]) if encoder.cfg.vocab else None
    if pieces is not None:
        print(f"bag head: {encoder.cfg.vocab} wordpieces, {coverage(encoder.head, [str(t) for t in data.texts]):.1%} "
              f"of the speech's pieces", flush=True)

    targets = torch.from_numpy(data.targets.astype(np.float32))
    labels = [text_to_labels(str(t)) for t in data.texts]
    multiple = encoder.cfg.hop * encoder.cfg.stack
    bank, speech_ids, lesson_ids = None, torch.arange(len(data.texts)), None
    if cfg.bank:  # every training text a negative, the speech's and the lessons'; the dev texts are in neither
        read = lessons[0] if lessons is not None else []
        vectors, rows = text_bank(read + spoken_texts,
                                  torch.cat([*([lessons[1]] if lessons is not None else []), targets[spoken]]).numpy())
        lesson_ids = rows[: len(read)]
        speech_ids = torch.full((len(data.texts),), -1, dtype=torch.long)
        speech_ids[spoken] = rows[len(read) :]
        bank = (vectors.to(device), torch.arange(len(vectors), device=device))
        print(f"negative bank: the teacher vectors of {len(vectors)} training texts", flush=True)

    def save_resume(done_epoch: int, step: int) -> None:
        """The resume checkpoint after `step` batches of the epoch after `done_epoch` (-1: none done yet)."""
        cuda_rng = {"cuda_rng": torch.cuda.get_rng_state()} if device.type == "cuda" else {}
        save_checkpoint(encoder, resume, epoch=done_epoch, step=step, optimizer=opt.state_dict(),
                        scheduler=sched.state_dict(), train_config=asdict(cfg), dev_cos=dev_cos,
                        rng=torch.get_rng_state(), **cuda_rng,
                        **({"reading": reading.state_dict()} if reading is not None else {}))

    saved = time.time()
    for epoch in range(start_epoch, cfg.epochs):
        first = start_step if epoch == start_epoch else 0
        encoder.train()
        t0 = time.time()
        plan = batches(train_idx, lengths, cfg.batch_size, random.Random(cfg.seed + epoch))
        loader = torch.utils.data.DataLoader(  # its own generator: making workers leaves the global RNG alone
            AugmentedBatches(data, plan, cfg, multiple, epoch), batch_size=None, sampler=range(first, len(plan)),
            num_workers=cfg.workers, persistent_workers=False, generator=torch.Generator().manual_seed(cfg.seed),
        )
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", initial=first, total=len(plan), mininterval=10)
        lesson_plan = lesson_batches(lessons[0], cfg.read_batch, random.Random(cfg.seed + epoch), first) \
            if lessons is not None else None
        for step, (wav, lens, tids) in enumerate(bar, start=first):
            loss, parts = distill_loss(
                encoder, wav.to(device), lens.to(device), targets[tids].to(device), speech_ids[tids].to(device),
                [labels[t] for t in tids.tolist()], cfg, docs, None if doc_rows is None else doc_rows[tids].to(device),
                None if pieces is None else [pieces[t] for t in tids.tolist()], bank,
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if lesson_plan is not None:  # after the speech's backward, so the two graphs are never held at once
                batch = next(lesson_plan)
                cos, nce = read_loss(reading, encoder, [lessons[0][i] for i in batch],
                                     lessons[1][batch].to(device), np.random.default_rng((cfg.seed, epoch, step)),
                                     cfg.temperature, None if lesson_ids is None else lesson_ids[batch].to(device), bank)
                read = (1 - cos).mean() + cfg.contrastive_weight * nce
                (cfg.read_weight * read).backward()
                parts["read"] = read.item()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
            sched.step()
            release_freed_memory()
            bar.set_postfix(loss=f"{loss.item():.3f}", **{k: f"{v:.3f}" for k, v in parts.items()})
            spent = time_budget_s is not None and time.time() - started >= time_budget_s
            if spent or time.time() - saved >= cfg.checkpoint_minutes * 60:
                save_resume(epoch - 1, step + 1)
                saved = time.time()
            if spent and not (epoch + 1 == cfg.epochs and step + 1 == len(plan)):
                bar.close()
                print(f"time budget spent at step {step + 1}/{len(plan)} of epoch {epoch + 1}/{cfg.epochs}; run the "
                      f"same command again to go on from {resume}", flush=True)
                return None
        dev_cos = evaluate_cos(encoder, data, dev_idx, multiple, device)
        print(f"epoch {epoch + 1}: dev cosine to teacher {dev_cos:.3f} ({time.time() - t0:.0f} s)", flush=True)
        save_resume(epoch, 0)
        saved = time.time()
    encoder.cpu().eval()
    lessons_kept = {"read_texts": str(read_texts), "reading": reading.cpu().state_dict()} if reading is not None else {}
    save_checkpoint(encoder, out, train_config=asdict(cfg), data=", ".join(map(str, paths)), init=str(init),
                    dev_cos=dev_cos, **lessons_kept)  # the lessons' characters, to score how well it reads
    resume.unlink(missing_ok=True)
    return encoder


@torch.no_grad()
def evaluate_cos(encoder: StreamingEncoder, data: SpeechSet, idx: list[int], multiple: int, device: torch.device) -> float:
    """Mean cosine between the student's clean-audio embedding and the teacher vector, over `idx`."""
    encoder.eval()
    cos = []
    for start in range(0, len(idx), 64):
        batch = idx[start : start + 64]
        wav, lens = collate([data.wav(i) for i in batch], multiple)
        emb, _ = encoder(wav.to(device), lens.to(device))
        tgt = torch.from_numpy(data.targets[data.text_ids[batch]].astype(np.float32)).to(device)
        cos.append((emb * tgt).sum(-1).cpu())
    return float(torch.cat(cos).mean()) if cos else float("nan")
