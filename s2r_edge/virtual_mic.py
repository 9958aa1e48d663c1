"""A virtual microphone without hardware: a PulseAudio null sink whose monitor source is captured like a mic.

Used by the tests, the latency benchmark and anyone trying `s2r-edge listen` on a machine with no microphone:
play a WAV into the sink and listen on `<sink>.monitor`.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from s2r_edge.errors import S2RError

START_TIMEOUT_S = 10.0


def _pactl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["pactl", *args], capture_output=True, text=True, timeout=10)


def ensure_pulseaudio() -> None:
    """Start a PulseAudio daemon for this user unless one answers already (root and no desktop session work)."""
    missing = [tool for tool in ("pulseaudio", "pactl", "paplay") if not shutil.which(tool)]
    if missing:
        raise S2RError(f"{', '.join(missing)} not found; install the pulseaudio and pulseaudio-utils packages")
    if _pactl("info").returncode == 0:
        return
    proc = subprocess.run(["pulseaudio", "--start", "--exit-idle-time=-1"], capture_output=True, text=True,
                          timeout=START_TIMEOUT_S)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if _pactl("info").returncode == 0:
            return
        time.sleep(0.2)
    raise S2RError(f"PulseAudio did not start ({proc.stderr.strip()[-300:] or 'no message'}); "
                   "run `pulseaudio --start --exit-idle-time=-1 -vv` to see why")


class NullSink:
    """A null sink loaded for the duration of a `with` block; audio played into it comes out of `monitor`."""

    def __init__(self, name: str, rate: int = 16000) -> None:
        self.name = name
        self.rate = rate
        self._module: str | None = None

    @property
    def monitor(self) -> str:
        """The source to capture: pass it to `s2r-edge listen --device`."""
        return f"{self.name}.monitor"

    def __enter__(self) -> NullSink:
        ensure_pulseaudio()
        proc = _pactl("load-module", "module-null-sink", f"sink_name={self.name}", f"rate={self.rate}", "channels=1")
        if proc.returncode != 0:
            raise S2RError(f"cannot load a PulseAudio null sink: {proc.stderr.strip()}")
        self._module = proc.stdout.strip()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._module is not None:
            _pactl("unload-module", self._module)
            self._module = None

    def play(self, path: str | Path) -> None:
        """Play an audio file into the sink in real time; returns when it has been played."""
        proc = subprocess.run(["paplay", f"--device={self.name}", str(path)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise S2RError(f"paplay {path} into {self.name} failed: {proc.stderr.strip()}")
