"""Append-only JSONL logs written by the services and read by monitoring and label merging.

BentoML runs several worker processes, and a DuckDB file admits one writer, so the services
never write to the database: each process appends to its own file per day
(``<dir>/<kind>-YYYY-MM-DD-<pid>.jsonl``), one JSON object per line, flushed per record.
Readers (drift monitoring, the merge-labels flow) glob the folder; closed days may have been
gzipped by the retention policy (``common.data.log_retention``) and are read the same.

``settings.log_inputs = "hash"`` (privacy-minded deployments) stores a posting's SHA-256 and its
size instead of its text; drift monitoring then has only the outputs to go on.

Request log record: ``{"ts", "endpoint", "model_tag", "latency_ms", "transport", "input", "output"}``
(``transport``: ``http`` or ``grpc``; older records lack it).
Feedback record: ``{"ts", "text", "keywords": [Keyword...], "groups": {skill: [codes]},
"annotator", "note"}``.
"""

from __future__ import annotations

import gzip
import hashlib
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
    from common.data.log_retention import log_files

    for f in log_files(directory, kind):
        try:
            fh = gzip.open(f.path, "rt", encoding="utf-8", errors="replace") if f.compressed else \
                f.path.open(encoding="utf-8", errors="replace")
        except FileNotFoundError:  # pruned between listing and opening: nothing to read
            continue
        with fh:
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
    transport: str = "http",
) -> Path:
    """Record one served request and its prediction, for monitoring; ``transport`` says whether it
    came over HTTP or through the gRPC front (which calls the HTTP API), so both reach drift checks."""
    from common.core.settings import get_settings

    if get_settings().log_inputs == "hash":
        inputs = hashed_inputs(inputs)
    return append_jsonl(
        directory,
        "requests",
        {"endpoint": endpoint, "model_tag": model_tag, "latency_ms": latency_ms, "transport": transport,
         "input": inputs, "output": outputs},
    )


def hashed_inputs(inputs: Any) -> Any:
    """``{"text": ...}`` -> ``{"text_sha256", "text_chars", "text_words", ...}``; other fields stay."""
    if isinstance(inputs, dict) and isinstance(inputs.get("text"), str):
        text = inputs["text"]
        rest = {k: v for k, v in inputs.items() if k != "text"}
        return {**rest, "text_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                "text_chars": len(text), "text_words": len(text.split())}
    return inputs


def log_feedback(directory: Path, records: Iterable[dict[str, Any]]) -> int:
    """Store user corrections for the merge-labels flow; returns how many were written."""
    n = 0
    for rec in records:
        append_jsonl(directory, "feedback", rec)
        n += 1
    return n
