"""Postings in, for batch extraction: JSONL, CSV, Parquet (``id`` and ``text`` columns), a folder
of ``.txt`` files, or the project's store. Every row comes out as a ``Posting`` or a ``BadRow``
with its reason; nothing stops the run and nothing is dropped silently.

Bad rows: no id, a duplicate id (the first occurrence wins), empty or non-text ``text``, a text
over the size limit, bytes that are not UTF-8, a line that is not a JSON object.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMATS = ("jsonl", "csv", "parquet", "txt")


@dataclass(frozen=True)
class Posting:
    id: str
    text: str


@dataclass(frozen=True)
class BadRow:
    """A refused input row: where it was (file and 1-based line or row), its id if any, why."""

    source: str
    line: int
    id: str | None
    reason: str
    excerpt: str = ""

    @property
    def key(self) -> str:
        return f"{self.source}:{self.line}"


def input_format(path: Path) -> str:
    """``jsonl`` / ``csv`` / ``parquet`` from the suffix, ``txt`` for a folder; else a ValueError."""
    if path.is_dir():
        return "txt"
    suffix = path.suffix.lower().lstrip(".")
    fmt = {"jsonl": "jsonl", "ndjson": "jsonl", "json": "jsonl", "csv": "csv", "parquet": "parquet", "pq": "parquet"}.get(suffix)
    if fmt is None:
        raise ValueError(f"{path}: unknown input format {path.suffix!r}; give a .jsonl, .csv or .parquet file or a folder of .txt files")
    return fmt


def _raw_rows(path: Path) -> Iterator[tuple[int, Any, Any, str | None]]:
    """(line, id, text, problem) of each row before validation; problem is a decoding failure."""
    fmt = input_format(path)
    if fmt == "txt":
        for i, f in enumerate(sorted(p for p in path.rglob("*.txt") if p.is_file()), 1):
            raw = f.read_bytes()
            try:
                yield i, str(f.relative_to(path).with_suffix("")), raw.decode("utf-8"), None
            except UnicodeDecodeError as exc:
                yield i, str(f.relative_to(path).with_suffix("")), None, f"undecodable bytes (not UTF-8 at byte {exc.start})"
    elif fmt == "jsonl":
        with path.open("rb") as fh:
            for i, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    yield i, None, None, f"undecodable bytes (not UTF-8 at byte {exc.start})"
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield i, None, None, f"not a JSON object: {exc.msg}"
                    continue
                if not isinstance(obj, dict):
                    yield i, None, None, "not a JSON object"
                    continue
                yield i, obj.get("id"), obj.get("text"), None
    elif fmt == "csv":
        data = path.read_bytes().decode("utf-8", errors="surrogateescape")
        reader = csv.DictReader(io.StringIO(data, newline=""))
        if reader.fieldnames is None or not {"id", "text"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: a CSV input needs 'id' and 'text' columns, found {reader.fieldnames}")
        for i, row in enumerate(reader, 2):  # line 1 is the header
            bad = [v for v in (row.get("id"), row.get("text")) if isinstance(v, str) and _has_surrogates(v)]
            yield i, row.get("id"), row.get("text"), "undecodable bytes (not UTF-8)" if bad else None
    else:
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        if not {"id", "text"} <= set(pf.schema_arrow.names):
            raise ValueError(f"{path}: a Parquet input needs 'id' and 'text' columns, found {pf.schema_arrow.names}")
        i = 0
        for batch in pf.iter_batches(columns=["id", "text"], batch_size=1024):
            for rid, text in zip(batch.column("id").to_pylist(), batch.column("text").to_pylist(), strict=True):
                i += 1
                yield i, rid, text, None


def _has_surrogates(s: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in s)


def read_postings(path: str | Path, max_chars: int) -> Iterator[Posting | BadRow]:
    """Every row of ``path`` as a ``Posting`` or a ``BadRow`` (in input order)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"input {path} does not exist")
    seen: set[str] = set()
    source = path.name
    for line, rid, text, problem in _raw_rows(path):
        rid = None if rid is None or (isinstance(rid, float) and rid != rid) else str(rid).strip() or None
        excerpt = text[:200] if isinstance(text, str) and not problem else ""
        if problem:
            yield BadRow(source, line, rid, problem)
        elif rid is None:
            yield BadRow(source, line, None, "no id", excerpt)
        elif rid in seen:
            yield BadRow(source, line, rid, "duplicate id (its first row is kept)", excerpt)
        elif not isinstance(text, str):
            yield BadRow(source, line, rid, f"text is not a string ({type(text).__name__})")
        elif not text.strip():
            yield BadRow(source, line, rid, "text is empty")
        elif len(text) > max_chars:
            yield BadRow(source, line, rid, f"text has {len(text)} characters; the limit is {max_chars}", excerpt)
        else:
            yield Posting(rid, text)
        if rid is not None:
            seen.add(rid)


def count_rows(path: str | Path) -> int | None:
    """How many rows ``path`` holds (for the progress bar's ETA); None when unknown cheaply."""
    path = Path(path)
    fmt = input_format(path)
    if fmt == "txt":
        return sum(1 for p in path.rglob("*.txt") if p.is_file())
    if fmt == "jsonl":
        with path.open("rb") as fh:
            return sum(1 for raw in fh if raw.strip())
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    return None


def postings_from_store(store: Any, models_key: str, max_chars: int) -> Iterator[Posting | BadRow]:
    """The store's valid postings that these models have not extracted yet (``models_key``): a new
    champion re-extracts everything, a nightly run only the new postings."""
    done = set(store.read("extracted_postings", {"models": models_key})["posting_id"].astype(str))
    frame = store.postings(status="valid")
    for line, (pid, text) in enumerate(zip(frame["posting_id"], frame["text"], strict=True), 1):
        pid = str(pid)
        if pid in done:
            continue
        if not isinstance(text, str) or not text.strip():
            yield BadRow("store", line, pid, "text is empty")
        elif len(text) > max_chars:
            yield BadRow("store", line, pid, f"text has {len(text)} characters; the limit is {max_chars}")
        else:
            yield Posting(pid, text)
