"""Spoken training data: texts spoken by several TTS voices, stored with the teacher's vector of each text.

A dataset is one `.npz`: `audio` (all utterances as int16, concatenated), `offsets` (n + 1), `text_ids` (n),
`voices` (n), `texts` (m unique texts) and `targets` (m, 384) float16 teacher vectors.
"""

from __future__ import annotations

import random
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from s2r_edge.errors import S2RError
from s2r_edge.noise import Condition
from s2r_edge.voices import TRAIN_VOICES, Voice


MIN_SAMPLES = 3200  # 0.2 s: anything shorter is a TTS failure, not speech


@dataclass(frozen=True)
class SynthConfig:
    """How texts become speech."""

    voices: tuple[str, ...] = TRAIN_VOICES
    voices_per_text: int = 1  # each text is spoken by this many different voices
    speed: tuple[float, float] = (0.8, 1.3)  # uniform range of speaking rate factors
    pitch: tuple[float, float] = (0.8, 1.25)  # uniform range of pitch factors
    workers: int = 4  # parallel TTS processes
    seed: int = 0


@dataclass
class SpeechSet:
    """An in-memory spoken dataset (see module docstring for the fields)."""

    audio: np.ndarray
    offsets: np.ndarray
    text_ids: np.ndarray
    voices: np.ndarray
    texts: np.ndarray
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.text_ids)

    def wav(self, i: int) -> np.ndarray:
        """Utterance i as float32 in [-1, 1]."""
        return self.audio[self.offsets[i] : self.offsets[i + 1]].astype(np.float32) / 32768.0

    def text(self, i: int) -> str:
        return str(self.texts[self.text_ids[i]])

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, **{k: getattr(self, k) for k in ("audio", "offsets", "text_ids", "voices", "texts", "targets")})
        tmp.replace(path)

    @classmethod
    def concat(cls, sets: list[SpeechSet]) -> SpeechSet:
        """One dataset holding all utterances of `sets`; a text spoken in several sets stays one text."""
        if len(sets) == 1:
            return sets[0]  # nothing to join: no copy of its audio
        texts: dict[str, int] = {}
        targets, text_ids = [], []
        for part in sets:
            for text, target in zip(part.texts, part.targets):
                if str(text) not in texts:
                    texts[str(text)] = len(texts)
                    targets.append(target)
            text_ids.append(np.array([texts[str(t)] for t in part.texts], dtype=part.text_ids.dtype)[part.text_ids])
        starts = np.cumsum([0] + [len(part.audio) for part in sets[:-1]])
        offsets = np.concatenate([[0]] + [part.offsets[1:] + start for part, start in zip(sets, starts)])
        return cls(audio=np.concatenate([part.audio for part in sets]), offsets=offsets,
                   text_ids=np.concatenate(text_ids), voices=np.concatenate([part.voices for part in sets]),
                   texts=np.array(list(texts)), targets=np.stack(targets))

    @classmethod
    def load(cls, path: str | Path) -> SpeechSet:
        path = Path(path)
        if not path.is_file():
            raise S2RError(f"{path}: no such dataset; make one with `s2r-edge synth`")
        try:
            with np.load(path, allow_pickle=False) as z:
                return cls(**{k: z[k] for k in ("audio", "offsets", "text_ids", "voices", "texts", "targets")})
        except (OSError, KeyError, ValueError) as exc:
            raise S2RError(f"{path}: not a readable s2r-edge dataset ({exc})") from None


def unique_texts(texts: list[str]) -> list[str]:
    """Stripped, non-blank texts, each once, in first-seen order."""
    return list(dict.fromkeys(t.strip() for t in texts if t.strip()))


def save_targets(texts: list[str], path: Path) -> None:
    """Texts with their teacher vectors, so synthesis can run where the teacher is not installed."""
    from s2r_edge.teacher import embed_texts

    texts = unique_texts(texts)
    write_targets(texts, embed_texts(texts, progress=True), path)


def write_targets(texts: list[str], vectors: np.ndarray, path: Path) -> None:
    """Store the vectors as int8 codes with one scale per row: half the size of float16 (the GPU bundle must fit
    64 MiB), and each vector keeps a cosine of at least 0.9999 to its original."""
    scale = np.maximum(np.abs(vectors).max(axis=1, keepdims=True), 1e-12) / 127
    codes = np.round(vectors / scale).astype(np.int8)
    np.savez_compressed(path, texts=np.array(texts), codes=codes, scale=scale.astype(np.float32))


def load_targets(path: Path) -> tuple[list[str], np.ndarray]:
    """Texts and their teacher vectors (float16) from a `--targets-out` file (int8 codes, or float16 as written
    before)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            targets = (z["codes"] * z["scale"]).astype(np.float16) if "codes" in z else z["targets"]
            return [str(t) for t in z["texts"]], targets
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise S2RError(f"{path}: not a texts-and-targets file from `s2r-edge synth --targets-out` ({exc})") from None


def synthesize(
    texts: list[str], cfg: SynthConfig = SynthConfig(), targets: np.ndarray | None = None, progress: bool = True
) -> SpeechSet:
    """Speak every text with `voices_per_text` voices at random speed and pitch; attach teacher targets
    (computed here unless given, one row per text)."""
    if targets is None:
        texts = unique_texts(texts)
    if not texts:
        raise S2RError("no usable texts to synthesize")
    voices = [Voice.parse(v) for v in cfg.voices]  # fail before any work if a voice is missing
    if cfg.voices_per_text > len(voices):
        raise S2RError(f"voices_per_text={cfg.voices_per_text} but only {len(voices)} voices are given")
    rng = random.Random(cfg.seed)
    jobs = [
        (i, v, rng.uniform(*cfg.speed), rng.uniform(*cfg.pitch))
        for i in range(len(texts))
        for v in rng.sample(voices, cfg.voices_per_text)
    ]

    def run(job: tuple[int, Voice, float, float]) -> np.ndarray | None:
        i, voice, speed, pitch = job
        try:
            wav = voice.speak(texts[i], speed=speed, pitch=pitch)
        except S2RError as exc:
            print(f"skipped {texts[i]!r} by {voice.spec}: {exc}", file=sys.stderr)
            return None
        if len(wav) < MIN_SAMPLES:
            return None
        peak = float(np.abs(wav).max()) or 1.0
        return (np.clip(wav / max(peak, 1.0), -1, 1) * 32767).astype(np.int16)

    from s2r_edge.teacher import embed_texts

    with ThreadPoolExecutor(cfg.workers) as pool:
        spoken = list(tqdm(pool.map(run, jobs), total=len(jobs), desc="synth", disable=not progress, mininterval=5))
    kept = [(job, wav) for job, wav in zip(jobs, spoken) if wav is not None]
    if not kept:
        raise S2RError("no text could be synthesized")
    jobs, wavs = [j for j, _ in kept], [w for _, w in kept]
    offsets = np.zeros(len(wavs) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(w) for w in wavs])
    return SpeechSet(
        audio=np.concatenate(wavs),
        offsets=offsets,
        text_ids=np.array([j[0] for j in jobs], dtype=np.int32),
        voices=np.array([j[1].spec for j in jobs]),
        texts=np.array(texts),
        targets=(embed_texts(texts, progress=progress) if targets is None else targets).astype(np.float16),
    )


def _write_query_set(out_dir: Path, rows: list[dict]) -> Path:
    """`out_dir/queries.jsonl` (DESIGN.md queries format, audio relative to it), written atomically; the temporary
    file is this process's own, so two runs writing the same set do not trip over each other."""
    import json
    import os

    out = out_dir / "queries.jsonl"
    tmp = out.with_name(f"queries.{os.getpid()}.tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    tmp.replace(out)
    return out


def speak_queries(queries_path: Path, voice_spec: str, out_dir: Path, progress: bool = True) -> Path:
    """Speak the `text` of each line of a queries file with one voice into `out_dir`; write
    `out_dir/queries.jsonl` pointing at the new audio (relative paths). Returns that file."""
    import soundfile as sf

    from s2r_edge.texts import read_queries

    queries = read_queries(queries_path, need_audio=False)
    voice = Voice.parse(voice_spec)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for n, q in enumerate(tqdm(queries, desc=f"speak {voice.spec}", disable=not progress, mininterval=5)):
        name = f"q{n:04d}.wav"
        sf.write(out_dir / name, voice.speak(q.text), 16000, subtype="PCM_16")
        rows.append({"audio": name, "text": q.text, "relevant": list(q.relevant), "voice": voice.spec})
    return _write_query_set(out_dir, rows)


def babble_pool(n: int = 16, seed: int = 0) -> list[np.ndarray]:
    """`n` training queries, each spoken by a random training voice: the talkers that babble noise is mixed from."""
    from s2r_edge.texts import TRAIN_QUERIES, read_texts

    rng = random.Random(seed)
    return [Voice.parse(rng.choice(TRAIN_VOICES)).speak(t) for t in rng.sample(read_texts(TRAIN_QUERIES), n)]


def condition_queries(clean: Path, condition: Condition, out_dir: Path, pool: list[np.ndarray] = (), seed: int = 0) -> Path:
    """Copy the spoken query set `clean` (a queries.jsonl) under an acoustic `condition` into `out_dir`;
    each clip gets its own seeded noise or room, so a rerun writes the same audio. Returns the new queries file."""
    import soundfile as sf

    from s2r_edge.audio import load_audio
    from s2r_edge.texts import read_queries

    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for n, q in enumerate(read_queries(clean)):
        wav = condition.apply(load_audio(q.audio), np.random.default_rng((seed, n)), pool)
        name = Path(q.audio).name
        sf.write(out_dir / name, wav, 16000, subtype="PCM_16")
        rows.append({"audio": name, "text": q.text, "relevant": list(q.relevant), "condition": condition.name})
    return _write_query_set(out_dir, rows)
