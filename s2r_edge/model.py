"""The streaming student: raw 16 kHz PCM -> log-mel (optionally minus its running mean) -> causal conv encoder ->
pooled, normalised query vector.

Two pooling heads: attention pooling of the encoder frames (the shipped model), or a bag of the teacher's
wordpieces (`ModelConfig.vocab` > 0): each frame's posterior over the pieces weighs a table of piece vectors.

Everything the device needs is inside the module, so the exported program takes raw float PCM.
`step(chunk, *state) -> (embedding, *state)` processes one fixed chunk; `forward(wav)` runs a whole
(padded) batch and gives the same embedding as stepping through the utterance chunk by chunk.
State is a flat tuple of tensors of fixed shapes (`state_shapes`) that starts from zeros.
"""

from __future__ import annotations

import math
import pickle
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from s2r_edge.errors import S2RError

CHARS = " abcdefghijklmnopqrstuvwxyz'"  # CTC alphabet; index 0 is the blank
SCORE_BOUND = 8.0  # attention-pooling scores live in [-8, 8] so exp() never under- or overflows
SPEECH_LEVEL, SPEECH_SLOPE = -0.5, 4.0  # a frame counts towards the running mean as its mean log-mel rises past -0.5


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the student; stored inside every checkpoint and exported program."""

    sample_rate: int = 16000
    chunk_samples: int = 2560  # 160 ms per step
    n_fft: int = 400  # 25 ms analysis window
    hop: int = 160  # 10 ms between mel frames
    n_mels: int = 64
    stack: int = 2  # mel frames stacked into one encoder frame (20 ms)
    dim: int = 192
    dilations: tuple[int, ...] = (1, 2, 4, 1, 2, 4, 1, 2)
    kernel: int = 5
    emb_dim: int = 384  # the teacher's space
    vocab: int = 0  # wordpieces of the bag head (0: attention pooling instead)
    bag_dim: int = 128  # width of the bag head's piece vectors
    bag_stride: int = 2  # encoder frames per wordpiece posterior (2: one every 40 ms)
    bag_phases: int = 1  # pairings of the frames the bag hears, averaged (2: each offset; its vector then barely
    # moves with where the chunks fall in the speech, RESULTS "Both pairings"; 1: checkpoints from before)
    mean_norm: float = 0.0  # running mean-spectrum normalisation: its prior's weight in frames (0: off)
    version: str = "0.1.0"
    teacher: str = "all-MiniLM-L6-v2"

    @property
    def frames_per_chunk(self) -> int:
        return self.chunk_samples // self.hop  # 16

    def __post_init__(self) -> None:
        if self.chunk_samples % (self.hop * self.stack):
            raise ValueError("chunk_samples must be a multiple of hop * stack")
        if self.vocab and self.chunk_samples % (self.hop * self.stack * self.bag_stride):
            raise ValueError("a chunk's encoder frames must be a multiple of bag_stride")
        if not 1 <= self.bag_phases <= self.bag_stride:
            raise ValueError("bag_phases must be 1 to bag_stride")
        if not self.mean_norm >= 0:
            raise ValueError("mean_norm must be 0 (off) or a positive weight in frames")


def mel_filterbank(n_fft: int, n_mels: int, sample_rate: int) -> np.ndarray:
    """Slaney-style triangular mel filters, shape (n_fft // 2 + 1, n_mels)."""

    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + f / 700.0)

    freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    mels = np.linspace(hz_to_mel(np.array(20.0)), hz_to_mel(np.array(sample_rate / 2 - 200)), n_mels + 2)
    edges = 700.0 * (10 ** (mels / 2595.0) - 1.0)
    fb = np.zeros((len(freqs), n_mels), dtype=np.float32)
    for m in range(n_mels):
        lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
        fb[:, m] = np.clip(np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)), 0, None)
    return fb


class LogMel(nn.Module):
    """Log-mel front end as a strided convolution with a fixed windowed-DFT kernel (exportable, no stft op)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        n_freq = cfg.n_fft // 2 + 1
        t = np.arange(cfg.n_fft)
        window = 0.5 - 0.5 * np.cos(2 * np.pi * t / cfg.n_fft)
        k = np.arange(n_freq)[:, None]
        angle = 2 * np.pi * k * t[None, :] / cfg.n_fft
        basis = np.concatenate([np.cos(angle), -np.sin(angle)]) * window  # (2 * n_freq, n_fft)
        self.hop = cfg.hop
        self.n_freq = n_freq
        self.register_buffer("basis", torch.tensor(basis, dtype=torch.float32).unsqueeze(1))
        self.register_buffer("fbank", torch.tensor(mel_filterbank(cfg.n_fft, cfg.n_mels, cfg.sample_rate)))
        self.register_buffer("mean", torch.zeros(cfg.n_mels))  # set from training audio (`set_norm`)
        self.register_buffer("std", torch.ones(cfg.n_mels))

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """audio (B, n_fft - hop + n * hop) -> normalised log-mel (B, n, n_mels)."""
        spec = F.conv1d(audio.unsqueeze(1), self.basis, stride=self.hop)  # (B, 2 * n_freq, n)
        re, im = spec[:, : self.n_freq], spec[:, self.n_freq :]
        power = (re * re + im * im).transpose(1, 2)  # (B, n, n_freq)
        logmel = torch.log(power @ self.fbank + 1e-6)
        return (logmel - self.mean) / self.std


class RunningMeanNorm(nn.Module):
    """Each normalised log-mel frame minus the running mean of the utterance's frames so far: a causal, fixed-size
    estimate of the talker's and the channel's spectral colour, taken out before the encoder hears it. Speech-like
    frames count and silence hardly; `prior` frames of the global mean (zero after `LogMel`) start it off.
    State: the weighted sum of the frames so far and their total weight."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.prior = cfg.mean_norm
        self.n_mels = cfg.n_mels

    def state_shapes(self, batch: int) -> list[tuple[int, ...]]:
        return [(batch, self.n_mels), (batch, 1)]

    def forward(self, mel: torch.Tensor, total: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """mel (B, n, n_mels) and the state -> the normalised frames and the new state."""
        w = torch.sigmoid(SPEECH_SLOPE * (mel.mean(-1, keepdim=True) - SPEECH_LEVEL))  # (B, n, 1)
        totals = total.unsqueeze(1) + (w * mel).cumsum(1)
        weights = weight.unsqueeze(1) + w.cumsum(1)
        return mel - totals / (self.prior + weights), totals[:, -1], weights[:, -1]


def mask_mel(mel: torch.Tensor, n_freq: int = 2, max_freq: int = 10, n_time: int = 4, max_time: int = 20) -> torch.Tensor:
    """SpecAugment: zero (the normalised mean) `n_freq` random mel bands and `n_time` random time spans per row."""
    b, n, m = mel.shape
    keep = torch.ones_like(mel, dtype=torch.bool)
    bins = torch.arange(m, device=mel.device)[None, :]
    frames = torch.arange(n, device=mel.device)[None, :]
    for _ in range(n_freq):
        width = torch.randint(0, max_freq + 1, (b, 1), device=mel.device)
        start = (torch.rand(b, 1, device=mel.device) * (m - width)).long()
        keep &= ~((bins >= start) & (bins < start + width))[:, None, :]
    for _ in range(n_time):
        width = torch.randint(0, max_time + 1, (b, 1), device=mel.device)
        start = (torch.rand(b, 1, device=mel.device) * (n - width).clamp(min=1)).long()
        keep &= ~((frames >= start) & (frames < start + width))[:, :, None]
    return mel * keep


class CausalBlock(nn.Module):
    """Pre-norm residual block: causal dilated depthwise conv, then a position-wise feed-forward."""

    def __init__(self, dim: int, kernel: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.context = (kernel - 1) * dilation  # past frames this block must remember
        self.dilation = dilation
        self.norm = nn.LayerNorm(dim)
        # Depthwise causal conv written as shifted multiply-adds: it stays fp32 and exports as plain
        # elementwise ops (XNNPACK's int8 depthwise conv1d path rejects a float weight beside int8 input).
        self.conv_weight = nn.Parameter(torch.randn(kernel, dim) / math.sqrt(kernel))
        self.conv_bias = nn.Parameter(torch.zeros(dim))
        self.ff = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, cache: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, L, D), cache (B, context, D) -> (B, L, D), new cache."""
        y = torch.cat([cache, self.norm(x)], dim=1)  # (B, context + L, D)
        n = x.shape[1]
        conv = self.conv_bias
        for j in range(self.conv_weight.shape[0]):
            conv = conv + y[:, j * self.dilation : j * self.dilation + n] * self.conv_weight[j]
        x = x + self.drop(conv)
        return x + self.drop(self.ff(x)), y[:, y.shape[1] - self.context :]


class AttentionPool(nn.Module):
    """Running softmax attention pooling of the encoder frames (log-sum-exp with a running max, exact across
    chunks), projected to the teacher's space. State: running max, weight sum, weighted frame sum."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.score = nn.Linear(cfg.dim, 1)
        self.proj = nn.Linear(cfg.dim, cfg.emb_dim)

    def state_shapes(self, batch: int) -> list[tuple[int, ...]]:
        return [(batch, 1), (batch, 1), (batch, self.proj.in_features)]

    def forward(self, x: torch.Tensor, m: torch.Tensor, s: torch.Tensor, acc: torch.Tensor,
                mask: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        """Frames (B, L, D) (`mask` (B, L): the real ones) folded into the state; returns the new state."""
        score = SCORE_BOUND * torch.tanh(self.score(x) / SCORE_BOUND)  # (B, L, 1)
        if mask is not None:
            score = score.masked_fill(~mask.unsqueeze(2), -SCORE_BOUND)
        new_m = torch.maximum(m, score.amax(dim=1))
        w = torch.exp(score - new_m.unsqueeze(1))
        if mask is not None:
            w = w * mask.unsqueeze(2)
        decay = torch.exp(m - new_m)
        return new_m, s * decay + w.sum(dim=1), acc * decay + (w * x).sum(dim=1)

    def embed(self, m: torch.Tensor, s: torch.Tensor, acc: torch.Tensor) -> torch.Tensor:
        """The query vector from the state: the weighted mean frame, projected, unit length."""
        return F.normalize(self.proj(acc / s), dim=-1)


class WordBag(nn.Module):
    """A bag of the teacher's wordpieces. Every `bag_stride` frames' posterior over `vocab` pieces (a CTC classifier,
    blank first, whose class vectors are the pieces' own vectors) weighs the table of piece vectors; the query vector
    is the projected mean of the pieces heard. A table of word meanings reads far better than conv blocks over characters
    (RESULTS "A bag of wordpieces"). With `bag_phases` 2 the frames are paired both ways, (0, 1), (2, 3), ... and
    (-1, 0), (1, 2), ..., and the two bags pooled: one pairing's pieces move with a delay of one frame (20 ms), so the
    query vector did with where the live chunks fell. State: the weighted piece-vector sum, the pieces' total weight
    and, pairing both ways, the chunk's last stride - 1 frames, the next chunk's first pairs' left halves."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.register_buffer("token_ids", torch.zeros(cfg.vocab, dtype=torch.long))  # teacher ids of pieces 1..K
        self.stride = cfg.bag_stride
        self.phases = cfg.bag_phases
        self.held = (cfg.bag_stride - 1, cfg.dim)  # the frames a later phase takes from the chunk before
        self.inp = nn.Linear(cfg.bag_stride * cfg.dim, cfg.bag_dim)
        self.table = nn.Parameter(torch.randn(cfg.vocab + 1, cfg.bag_dim) / math.sqrt(cfg.bag_dim))  # row 0: blank
        self.bias = nn.Parameter(torch.zeros(cfg.vocab + 1))
        with torch.no_grad():
            self.bias[0] = math.log(cfg.vocab)  # start out hearing mostly blanks, as a trained CTC head does
        self.proj = nn.Linear(cfg.bag_dim, cfg.emb_dim)
        self.scorer: nn.Linear | None = None  # the table's two products as Linear layers, once `as_linears` is called
        self.gather: nn.Linear | None = None

    @torch.no_grad()
    def as_linears(self) -> None:
        """For export copies: the table's two products as Linear layers that XNNPACK runs, `scorer` (pieces' logits;
        weight: the table) and `gather` (heard pieces -> their vectors' sum; weight: the table without blank,
        transposed). As matmuls with the table they ran outside it, 36 times slower a step (RESULTS, "`bagk2`")."""
        vocab, dim = self.table.shape
        self.scorer, self.gather = nn.Linear(dim, vocab), nn.Linear(vocab - 1, dim, bias=False)
        self.scorer.weight.copy_(self.table)
        self.scorer.bias.copy_(self.bias)
        self.gather.weight.copy_(self.table[1:].T)
        self.table = nn.Parameter(self.table.new_zeros(0, dim), requires_grad=False)

    def state_shapes(self, batch: int) -> list[tuple[int, ...]]:
        return [(batch, self.proj.in_features), (batch, 1), *([(batch, *self.held)] if self.phases > 1 else [])]

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Frames (B, L, D) -> piece logits (B, ceil(L / stride), vocab + 1), blank first (a zero frame pads L).
        The table itself while training; an export copy's `scorer` (one program reading the table both as a Linear
        weight and as a matmul operand crashed in its first step, so the two products have a layer each)."""
        b, n, d = x.shape
        if n % self.stride:  # (no pad op where none is needed: XNNPACK refused an empty one in a static int8 program)
            x = F.pad(x, (0, 0, 0, -n % self.stride))
        x = self.inp(x.reshape(b, -1, self.stride * d))
        return x @ self.table.T + self.bias if self.scorer is None else self.scorer(x)

    def phase_logits(self, x: torch.Tensor, held: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Frames (B, L, D) -> the piece logits of each phase: phase j pairs them j frames later, its first pair
        taking j of `held` (the chunk before's last frames; zeros at the start), its last j frames left to the next
        chunk. Phase 0 is `logits`, which the piece CTC learns from."""
        if held is None:
            held = x.new_zeros(x.shape[0], *self.held)
        later = [torch.cat([held[:, held.shape[1] - j :], x], dim=1) for j in range(1, self.phases)]
        return [self.logits(x), *(self.logits(y[:, : y.shape[1] - y.shape[1] % self.stride]) for y in later)]

    def forward(self, x: torch.Tensor, total: torch.Tensor, count: torch.Tensor, *held: torch.Tensor,
                mask: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        """Frames (B, L, D) (`mask` (B, L): the real ones) folded into the state; returns the new state."""
        folded = self.fold(self.phase_logits(x, *held), total, count, mask=mask)
        return (*folded, x[:, x.shape[1] - self.held[0] :]) if held else folded

    def fold(self, logits: list[torch.Tensor], total: torch.Tensor, count: torch.Tensor, *held: torch.Tensor,
             mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The bag's sum and weight from each phase's piece `logits` (`phase_logits`), for training, where the piece
        CTC takes the same logits; the frames `held` for the next chunk are `forward`'s to keep."""
        p = 0
        for j, phase in enumerate(logits):
            heard = phase.softmax(-1)[..., 1:]
            if mask is not None:  # a pair counts when its first frame is real, a later phase's when its last is (the
                # held ones are): the last pair of the frames heard so far waits for the next chunk's first frame
                real = F.pad(mask, (j, 0), value=True)[:, (self.stride - 1 if j else 0) :: self.stride]
                real = real[:, : heard.shape[1]]
                heard = heard * real.unsqueeze(2)
            p = p + heard.sum(dim=1)  # (B, vocab): how much of each piece was heard
        heard = p @ self.table[1:] if self.gather is None else self.gather(p)
        return total + heard, count + p.sum(dim=1, keepdim=True)

    def embed(self, total: torch.Tensor, count: torch.Tensor, *held: torch.Tensor) -> torch.Tensor:
        """The query vector from the state (the frames `held` for the next pairs do not count): the mean piece
        vector heard, projected, unit length."""
        return F.normalize(self.proj(total / count.clamp(min=1e-3)), dim=-1)

    def read(self, pieces: torch.Tensor) -> torch.Tensor:
        """Pieces (B, L) (1-based, 0-padded) heard for certain -> unit vectors (B, emb_dim): what the head makes of
        a perfect ear."""
        heard = (pieces > 0).unsqueeze(2).float()
        return self.embed((self.table[pieces] * heard).sum(dim=1), heard.sum(dim=1))


class StreamingEncoder(nn.Module):
    """The student. Use `step` for streaming (what is exported) and `forward` for training."""

    def __init__(self, cfg: ModelConfig, dropout: float = 0.0) -> None:
        super().__init__()
        self.cfg = cfg
        self.frontend = LogMel(cfg)
        self.mean_norm = RunningMeanNorm(cfg) if cfg.mean_norm else None
        self.inp = nn.Linear(cfg.stack * cfg.n_mels, cfg.dim)
        self.blocks = nn.ModuleList(CausalBlock(cfg.dim, cfg.kernel, d, dropout) for d in cfg.dilations)
        self.norm = nn.LayerNorm(cfg.dim)
        self.head = WordBag(cfg) if cfg.vocab else AttentionPool(cfg)
        self.ctc = nn.Linear(cfg.dim, len(CHARS) + 1)  # training-only head, not exported

    def state_shapes(self, batch: int = 1) -> list[tuple[int, ...]]:
        """Shapes of the streaming state: audio tail, the running mean norm's (if any), one cache per block, then
        the head's."""
        cfg = self.cfg
        norm = self.mean_norm.state_shapes(batch) if self.mean_norm is not None else []
        return [(batch, cfg.n_fft - cfg.hop), *norm, *[(batch, b.context, cfg.dim) for b in self.blocks],
                *self.head.state_shapes(batch)]

    def split_state(
        self, state: list[torch.Tensor]
    ) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
        """A flat state -> audio tail, the running mean norm's state (empty without one), the blocks' caches, the
        head's state."""
        a = 1 + (len(self.mean_norm.state_shapes(1)) if self.mean_norm is not None else 0)
        b = a + len(self.blocks)
        return state[0], list(state[1:a]), list(state[a:b]), list(state[b:])

    def initial_state(self, batch: int = 1) -> list[torch.Tensor]:
        return [torch.zeros(s) for s in self.state_shapes(batch)]

    def _encode(
        self, audio: torch.Tensor, norm: list[torch.Tensor], caches: list[torch.Tensor], spec_augment: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """Audio with its left context -> encoder frames (B, L, D), the new mean norm state and conv caches."""
        mel = self.frontend(audio)
        if self.mean_norm is not None:
            mel, *norm = self.mean_norm(mel, *norm)
        if spec_augment:
            mel = mask_mel(mel)
        b, n, m = mel.shape
        x, caches = self.body(self.inp(mel.reshape(b, n // self.cfg.stack, self.cfg.stack * m)), caches)
        return x, caches, norm

    def body(
        self, x: torch.Tensor, caches: list[torch.Tensor], first: int = 0
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Frames (B, L, D) -> encoder frames and the new conv caches of blocks `first`.. (whatever feeds them: the
        input layer, or training's reading lessons midway); `caches` holds those blocks' caches only."""
        new_caches = []
        for block, cache in zip(self.blocks[first:], caches):
            x, cache = block(x, cache)
            new_caches.append(cache)
        return self.norm(x), new_caches

    def step(self, chunk: torch.Tensor, *state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """chunk (B, chunk_samples) + state -> (embedding (B, emb_dim), *new state)."""
        tail, norm, caches, pooled = self.split_state(list(state))
        audio = torch.cat([tail, chunk], dim=1)
        new_tail = audio[:, audio.shape[1] - tail.shape[1] :]
        x, caches, norm = self._encode(audio, norm, caches)
        pooled = self.head(x, *pooled)
        return (self.head.embed(*pooled), new_tail, *norm, *caches, *pooled)

    def frames(
        self, wav: torch.Tensor, lengths: torch.Tensor | None = None, spec_augment: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """wav (B, T) zero-padded, T a multiple of hop * stack -> encoder frames (B, L, D) and, with `lengths`
        (samples per row), which frames are real (B, L). `spec_augment` masks random mel bands and time spans."""
        tail, norm, caches, _ = self.split_state([t.to(wav.device) for t in self.initial_state(wav.shape[0])])
        x, _, _ = self._encode(torch.cat([tail, wav], dim=1), norm, caches, spec_augment)
        if lengths is None:
            return x, None
        frame = self.cfg.hop * self.cfg.stack
        n_valid = torch.div(lengths + frame - 1, frame, rounding_mode="floor")
        return x, torch.arange(x.shape[1], device=wav.device)[None, :] < n_valid[:, None]

    def pooled(self, x: torch.Tensor, mask: torch.Tensor | None = None,
               logits: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Whole utterances' frames -> their query vectors (B, emb_dim), as `step` gives at the last chunk. A bag
        head's piece `logits` of `x` (`WordBag.phase_logits`), where training has them already, are used instead of
        computed again."""
        state = [torch.zeros(shape, device=x.device) for shape in self.head.state_shapes(x.shape[0])]
        folded = self.head(x, *state, mask=mask) if logits is None else self.head.fold(logits, *state, mask=mask)
        return self.head.embed(*folded)

    def forward(
        self, wav: torch.Tensor, lengths: torch.Tensor | None = None, spec_augment: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """wav (B, T) zero-padded, T a multiple of hop * stack -> (embedding (B, emb_dim), CTC log-probs (B, L, V)).

        With `lengths` (samples per row), frames past each row's end are left out of the pooling.
        `spec_augment` masks random mel bands and time spans (training only).
        """
        x, mask = self.frames(wav, lengths, spec_augment)
        return self.pooled(x, mask), self.ctc(x).log_softmax(-1)


class StepModule(nn.Module):
    """Wraps `StreamingEncoder.step` as `forward`, the signature that is exported."""

    def __init__(self, encoder: StreamingEncoder) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, chunk: torch.Tensor, *state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.encoder.step(chunk, *state)


def save_checkpoint(encoder: StreamingEncoder, path: Path, **extra: object) -> None:
    """Save weights and config (plus training bookkeeping in `extra`) atomically."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    cfg = asdict(encoder.cfg)
    torch.save({"config": cfg, "state_dict": encoder.state_dict(), **extra}, tmp)
    tmp.replace(path)


def _renamed(state: dict) -> dict:
    """Checkpoints from before the bag head kept attention pooling's weights at the top level."""
    return {("head." + k if k.split(".")[0] in ("score", "proj") else k): v for k, v in state.items()}


def load_checkpoint(path: Path) -> tuple[StreamingEncoder, dict]:
    """Load an eager student from a checkpoint written by `save_checkpoint`; returns it (eval mode) and the raw dict."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        cfg = ModelConfig(**{**ckpt["config"], "dilations": tuple(ckpt["config"]["dilations"])})
        encoder = StreamingEncoder(cfg)
        encoder.load_state_dict(_renamed(ckpt["state_dict"]))
    except (OSError, KeyError, RuntimeError, TypeError, EOFError, pickle.UnpicklingError) as exc:
        raise S2RError(f"{path}: not a usable s2r-edge checkpoint ({exc})") from None
    return encoder.eval(), ckpt


def text_to_labels(text: str) -> list[int]:
    """Characters of a transcript as CTC targets (1-based; unknown characters dropped, spaces collapsed)."""
    text = " ".join(text.lower().split())
    return [CHARS.index(c) + 1 for c in text if c in CHARS]


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())

