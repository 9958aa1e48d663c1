"""Write one section of benchmarks/RESULTS.md in place (between HTML comment markers), atomically."""

from __future__ import annotations

import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = "# Measured results\n\nEach section says the command that produced it; rerun that command to refresh it.\n"


def write_section(name: str, body: str, path: Path = RESULTS) -> None:
    """Replace (or append) the section `name`; the file is never left half-written."""
    text = path.read_text() if path.is_file() else HEADER
    block = f"<!-- {name} -->\n{body.strip()}\n<!-- /{name} -->"
    pattern = re.compile(rf"<!-- {re.escape(name)} -->.*?<!-- /{re.escape(name)} -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)
