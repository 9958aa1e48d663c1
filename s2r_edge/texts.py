"""Text inputs: the docs and queries JSON Lines files of DESIGN.md, and training sentences from WordNet, the
fortune-cookie quotations and the Ding dictionary's example sentences."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from s2r_edge.errors import S2RError

WORDNET_DIR = Path("/usr/share/wordnet")  # Debian package wordnet-base (WordNet 3.0 licence)
FORTUNES_DIR = Path("/usr/share/games/fortunes")  # Debian package fortunes (fortune-mod, BSD licence)
FORTUNE_FILES_LEFT_OUT = ("ascii-art", "ethnic", "men-women")  # pictures, and jokes about groups of people
DING_FILE = Path("/usr/share/trans/de-en")  # Debian package trans-de-en (Ding German-English dictionary, GPL-2+)


@dataclass(frozen=True)
class Doc:
    """One searchable document: a unique `id`, the `text` that is embedded, and any other fields as `meta`."""

    id: str
    text: str
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Query:
    """One labelled spoken query: its `audio` path (may be empty), `text` transcript, `relevant` doc ids,
    and the `line` of the queries file it came from (for error messages)."""

    audio: str
    text: str
    relevant: tuple[str, ...]
    line: int = 0


def _json_lines(path: Path) -> list[tuple[int, dict]]:
    """(line number, object) for each non-blank line; a malformed line is an error naming file and line."""
    if not path.is_file():
        raise S2RError(f"{path}: no such file")
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise S2RError(f"{path}:{n}: not valid JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise S2RError(f"{path}:{n}: expected a JSON object per line")
            rows.append((n, obj))
    if not rows:
        raise S2RError(f"{path}: no lines; expected one JSON object per line")
    return rows


def read_docs(path: str | Path) -> list[Doc]:
    """Read a docs file: one `{"id": str, "text": str, ...}` per line; ids must be unique and texts non-empty."""
    path = Path(path)
    docs, seen = [], set()
    for n, obj in _json_lines(path):
        doc_id, text = obj.get("id"), obj.get("text")
        if not isinstance(doc_id, str) or not doc_id:
            raise S2RError(f"{path}:{n}: missing or non-string \"id\"")
        if not isinstance(text, str) or not text.strip():
            raise S2RError(f"{path}:{n}: missing or empty \"text\"")
        if doc_id in seen:
            raise S2RError(f"{path}:{n}: duplicate id {doc_id!r}")
        seen.add(doc_id)
        docs.append(Doc(doc_id, text, {k: v for k, v in obj.items() if k not in ("id", "text")}))
    return docs


def read_queries(path: str | Path, need_audio: bool = True) -> list[Query]:
    """Read a queries file: `{"audio": path, "text": str, "relevant": [ids]}` per line; audio is resolved
    against the file's folder and must exist when `need_audio`."""
    path = Path(path)
    queries = []
    for n, obj in _json_lines(path):
        text, relevant, audio = obj.get("text", ""), obj.get("relevant"), obj.get("audio", "")
        if not isinstance(text, str):
            raise S2RError(f"{path}:{n}: \"text\" must be a string")
        if not isinstance(relevant, list) or not relevant or not all(isinstance(r, str) for r in relevant):
            raise S2RError(f"{path}:{n}: \"relevant\" must be a non-empty list of doc ids")
        if need_audio:
            if not isinstance(audio, str) or not audio:
                raise S2RError(f"{path}:{n}: missing \"audio\"")
            audio = str(path.parent / audio)
            if not Path(audio).is_file():
                raise S2RError(f"{path}:{n}: audio file {audio} does not exist")
        queries.append(Query(audio, text, tuple(relevant), n))
    return queries


def _wordnet_lines(wordnet_dir: Path) -> Iterator[tuple[str, str]]:
    """(part of speech, data line) for every synset line of WordNet's data files."""
    files = {pos: wordnet_dir / f"data.{pos}" for pos in ("noun", "verb", "adj", "adv")}
    if not all(f.is_file() for f in files.values()):
        raise S2RError(f"WordNet not found under {wordnet_dir}: install the Debian package wordnet-base")
    for pos, f in files.items():
        for line in f.read_text(encoding="latin-1").splitlines():
            if not line.startswith("  ") and "|" in line:
                yield pos, line


def wordnet_sentences(wordnet_dir: Path = WORDNET_DIR) -> list[str]:
    """The example sentences quoted in WordNet's glosses (about 48k short, human-written phrases), deduplicated."""
    seen: dict[str, None] = {}
    for _, line in _wordnet_lines(wordnet_dir):
        for s in re.findall(r'"([^"]{10,120})"', line.split("|", 1)[1]):
            seen.setdefault(" ".join(s.split()), None)
    return list(seen)


def wordnet_glosses(wordnet_dir: Path = WORDNET_DIR) -> list[Doc]:
    """Every WordNet synset as a dictionary-entry document, `"cat, true cat: feline mammal ..."` (117,659 of
    them): real, human-written distractors that make a benchmark index as large as a real one."""
    docs = []
    for pos, line in _wordnet_lines(wordnet_dir):
        head, gloss = line.split("|", 1)
        fields = head.split()
        words = [w.replace("_", " ") for w in fields[4 : 4 + 2 * int(fields[3], 16) : 2]]
        words = [re.sub(r"\(\w+\)$", "", w) for w in words]  # adjective markers such as "(a)"
        docs.append(Doc(f"wn-{pos}-{fields[0]}", f"{', '.join(words)}: {gloss.strip()}", {"domain": "wordnet"}))
    return docs


def fortune_sentences(fortunes_dir: Path = FORTUNES_DIR) -> list[str]:
    """Short quotations, proverbs and jokes from the fortune files (about 9k of 10 to 120 characters of plain
    text, attribution lines dropped), deduplicated: real sentences in a register WordNet's examples lack."""
    files = sorted(f for f in fortunes_dir.glob("*")
                   if f.is_file() and not f.suffix and f.name not in FORTUNE_FILES_LEFT_OUT)
    if not files:
        raise S2RError(f"no fortune files under {fortunes_dir}: install the Debian package fortunes")
    seen: dict[str, None] = {}
    for f in files:
        for entry in f.read_text(encoding="utf-8", errors="replace").split("\n%\n"):
            lines = [line.strip() for line in entry.splitlines()]
            text = " ".join(" ".join(line for line in lines if not line.startswith("--")).split())  # no attribution
            if 10 <= len(text) <= 120 and re.fullmatch(r"[A-Za-z0-9 ,.'?!;:\-\"]+", text):
                seen.setdefault(text, None)
    return list(seen)


def ding_sentences(path: Path = DING_FILE) -> list[str]:
    """The English example sentences of the Ding dictionary (about 18k of 3 to 16 words, such as "You better go
    home."), deduplicated: everyday spoken phrasing, the register of voice queries that the other sources lack."""
    if not path.is_file():
        raise S2RError(f"{path}: no such file: install the Debian package trans-de-en")
    seen: dict[str, None] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("#") or "::" not in line:
            continue
        for phrase in re.split(r"[|;]", line.split("::", 1)[1]):  # the English side: variants and examples
            text = " ".join(re.sub(r"\[[^]]*]|\{[^}]*}|<[^>]*>", "", phrase).replace("\u2019", "'").split())  # no tags
            if (re.fullmatch(r"[A-Z][A-Za-z0-9 ,.'?!:\-]+[.?!]", text) and 3 <= len(text.split()) <= 16
                    and not re.search(r"\b(sb|sth|etc)\b", text)):  # whole sentences, no "to do sth. for sb."
                seen.setdefault(text, None)
    return list(seen)


def read_texts(path: str | Path) -> list[str]:
    """Training texts from a file: the "text" of each line of a .jsonl, else each non-blank line; never empty."""
    path = Path(path)
    if path.suffix == ".jsonl":
        lines = [obj.get("text", "") for _, obj in _json_lines(path)]
    elif path.is_file():
        lines = path.read_text(encoding="utf-8").splitlines()
    else:
        raise S2RError(f"{path}: no such file")
    texts = [" ".join(t.split()) for t in lines if isinstance(t, str) and t.strip()]
    if not texts:
        raise S2RError(f"{path}: no usable lines of text")
    return texts


DATA_DIR = Path(__file__).parent / "data"
DEMO_DOCS = DATA_DIR / "demo_docs.jsonl"
DEMO_QUERIES = DATA_DIR / "demo_queries.jsonl"  # the benchmark's test split: never trained on
DEV_QUERIES = DATA_DIR / "dev_queries.jsonl"  # the dev split: for choosing models, never trained on
TRAIN_QUERIES = DATA_DIR / "train_queries.jsonl"
STOP_WORDS = frozenset(
    "a an the my me i i'm you your it its is are was be to of in on at for from with and or but do does did can could "
    "how what where when which who why this that these those there here up down out off about all any some please "
    "show find get open make let's want need".split()
)
DEMO_PROMPTS = DATA_DIR / "demo_prompts.txt"


def bundled_training_texts() -> list[str]:
    """App-style texts shipped with the package: the training queries and the demo docs' titles."""
    return read_texts(TRAIN_QUERIES) + [str(d.meta.get("title", "")) for d in read_docs(DEMO_DOCS) if d.meta.get("title")]


def normalise(text: str) -> str:
    """Lowercase words without punctuation: the form used to compare texts across splits."""
    return " ".join(re.sub(r"[^a-z0-9' ]", " ", text.lower()).split())


def held_out_texts() -> set[str]:
    """Normalised texts of the test and dev queries, which must never be trained on."""
    return {normalise(q.text) for path in (DEMO_QUERIES, DEV_QUERIES) for q in read_queries(path, need_audio=False)}


def content_words(text: str) -> set[str]:
    """The words of `text` that carry meaning (not in STOP_WORDS), with a plural "s" dropped."""
    words = {w.strip("'") for w in normalise(text).split()} - STOP_WORDS
    return {w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words if w}


def _word_edits(a: list[str], b: list[str]) -> int:
    """Word-level Levenshtein distance."""
    row = list(range(len(b) + 1))
    for i, wa in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, wb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (wa != wb))
    return row[-1]


def near_copies(held: set[str] | list[str], texts: list[str]) -> list[tuple[str, str]]:
    """(held-out text, training text) pairs that are the same sentence or one word apart (an insertion,
    deletion or substitution), compared after `normalise`."""
    postings: dict[str, list[int]] = {}
    norm = [normalise(t).split() for t in texts]
    for i, words in enumerate(norm):
        for w in set(words) - STOP_WORDS:
            postings.setdefault(w, []).append(i)
    pairs = []
    for h in held:
        hw = normalise(h).split()
        keys = set(hw) - STOP_WORDS
        counts: dict[int, int] = {}
        for w in keys:
            for i in postings.get(w, ()):
                counts[i] = counts.get(i, 0) + 1
        for i, c in counts.items():
            if c >= len(keys) - 1 and abs(len(norm[i]) - len(hw)) <= 1 and _word_edits(hw, norm[i]) <= 1:
                pairs.append((h, texts[i]))
    return pairs
