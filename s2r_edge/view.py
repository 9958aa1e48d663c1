"""Terminal views of the live loop: hits rewritten in place on a TTY, plain log lines anywhere else."""

from __future__ import annotations

import sys
from typing import TextIO

from s2r_edge.index import Hit
from s2r_edge.mic import Summary, Utterance

CLEAR_LINE = "\x1b[2K"
UP = "\x1b[{n}F"  # cursor to the start of the line n lines up


def hit_lines(hits: list[Hit]) -> list[str]:
    return [f"  {rank:2d}. {h.score:.3f}  {h.id:<14} {h.text if len(h.text) <= 70 else h.text[:67] + '...'}"
            for rank, h in enumerate(hits, 1)]


def utterance_line(n: int, u: Utterance) -> str:
    return (f"utterance {n}: {u.speech_s:.1f} s of speech · end of speech -> hits {u.end_to_hits_ms:.0f} ms "
            f"· {u.chunks} chunks · {u.overflows} overflows, {u.dropped} dropped blocks")


def summary_line(s: Summary) -> str:
    med = s.to_json()["end_to_hits_ms_median"]
    lat = f"median end of speech -> hits {med:.0f} ms" if med is not None else "no utterance heard"
    n = len(s.utterances)
    return f"{n} utterance{'' if n == 1 else 's'} from {s.device} · {lat} · {s.overflows} overflows, {s.dropped} dropped blocks"


class PlainView:
    """One block of lines per final result; partial results are not printed."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out
        self.count = 0

    def partial(self, hits: list[Hit]) -> None:
        pass

    def final(self, u: Utterance) -> None:
        self.count += 1
        print("\n".join([utterance_line(self.count, u), *hit_lines(u.hits)]), file=self.out, flush=True)


class LiveView(PlainView):
    """Partial hits rewritten in place while the user speaks; the final ones stay on screen."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        super().__init__(out)
        self._shown = 0  # lines of the partial block on screen

    def _draw(self, lines: list[str]) -> None:
        erase = UP.format(n=self._shown) if self._shown else ""
        lines = lines + [""] * (self._shown - len(lines))  # blank what the longer block left below
        self.out.write(erase + "".join(f"{CLEAR_LINE}{line}\n" for line in lines))
        self.out.flush()

    def partial(self, hits: list[Hit]) -> None:
        lines = ["listening ... (partial)", *hit_lines(hits)]
        self._draw(lines)
        self._shown = len(lines)

    def final(self, u: Utterance) -> None:
        self.count += 1
        self._draw([utterance_line(self.count, u), *hit_lines(u.hits)])
        self._shown = 0
