"""Append-only JSONL logs written by the services and read by monitoring and label merging.

BentoML runs several worker processes, and a DuckDB file admits one writer, so the services
never write to the database: each process appends to its own file per day
(``<dir>/<kind>-YYYY-MM-DD-<pid>.jsonl``), one JSON object per line, flushed per record.
Readers (drift monitoring, the merge-labels flow) glob the folder.

Request log record: ``{"ts", "endpoint", "model_tag", "latency_ms", "input", "output"}``.
Feedback record: ``{"ts", "text", "keywords": [Keyword...], "groups": {skill: [codes]},
"annotator", "note"}``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_LOCK = threading.Lock()


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def append_jsonl(directory: Path, kind: str, record: dict[str, Any]) -> Path:
    """Append ``record`` (with a ``ts`` added when missing) to this process's file of the day."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    record = {"ts": now_iso(), **record}
    path = directory / f"{kind}-{datetime.now(UTC):%Y-%m-%d}-{os.getpid()}.jsonl"
    line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
    with _LOCK, path.open("a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
    return path


def iter_jsonl(directory: Path, kind: str, since: datetime | None = None) -> Iterator[dict[str, Any]]:
    """All records of ``kind`` under ``directory`` (oldest file first); bad lines are skipped.

    A half-written last line (a worker killed mid-write) must not stop monitoring, so lines
    that do not parse are ignored rather than raised.
    """
    directory = Path(directory)
    if not directory.exists():
        return
    for path in sorted(directory.glob(f"{kind}-*.jsonl")):
        with path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if since is not None:
                    try:
                        if datetime.fromisoformat(rec["ts"]) < since:
                            continue
                    except (KeyError, ValueError):
                        continue
                yield rec


def log_request(
    directory: Path,
    endpoint: str,
    model_tag: str | None,
    latency_ms: float,
    inputs: Any,
    outputs: Any,
) -> Path:
    """Record one served request and its prediction, for monitoring."""
    return append_jsonl(
        directory,
        "requests",
        {"endpoint": endpoint, "model_tag": model_tag, "latency_ms": latency_ms, "input": inputs, "output": outputs},
    )


def log_feedback(directory: Path, records: Iterable[dict[str, Any]]) -> int:
    """Store user corrections for the merge-labels flow; returns how many were written."""
    n = 0
    for rec in records:
        append_jsonl(directory, "feedback", rec)
        n += 1
    return n
