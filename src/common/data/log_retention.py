"""Retention for the append-only JSONL logs: compress closed days, prune by age and size, and
never delete what a running reader (a drift check) has said it needs.

Why: every served posting writes its text and output (about 10 KB a request); at a million
postings a day that is ~10 GB a day, and nothing removed it. The policy (``Settings``:
``log_retention_days``, ``log_retention_mb``) is applied by the monitor flow before each check
(``flows/monitor.py``) and by ``jobskills logs prune``.

Files are ``<kind>-YYYY-MM-DD-<pid>.jsonl``: a writer only ever appends to today's file, so a
file whose day ended (plus a grace period for a request that straddled midnight) is closed and
can be gzipped; readers (``request_log.iter_jsonl``) read both forms. A reader protects its
window with ``hold(directory, since)``: a lease file naming the oldest day it reads; pruning
keeps every file from that day on while the lease's process lives.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

_NAME = re.compile(r"^(?P<kind>[a-z_]+)-(?P<day>\d{4}-\d{2}-\d{2})-(?P<pid>\d+)\.jsonl(?P<gz>\.gz)?$")
LEASES = ".leases"


@dataclass(frozen=True)
class LogFile:
    path: Path
    kind: str
    day: date
    size: int
    compressed: bool


@dataclass
class RetentionReport:
    compressed: list[Path] = field(default_factory=list)
    deleted: list[Path] = field(default_factory=list)
    held: list[Path] = field(default_factory=list)  # over the policy, kept for a live lease
    bytes_before: int = 0
    bytes_after: int = 0

    def as_dict(self) -> dict:
        return {"compressed": len(self.compressed), "deleted": len(self.deleted), "held_for_readers": len(self.held),
                "mb_before": round(self.bytes_before / 1e6, 2), "mb_after": round(self.bytes_after / 1e6, 2)}


def log_files(directory: Path, kind: str) -> list[LogFile]:
    """The log files of ``kind``, oldest day first."""
    out = []
    directory = Path(directory)
    if not directory.exists():
        return out
    for p in directory.iterdir():
        m = _NAME.match(p.name)
        if m and m["kind"] == kind and p.is_file():
            try:
                out.append(LogFile(p, kind, date.fromisoformat(m["day"]), p.stat().st_size, bool(m["gz"])))
            except (OSError, ValueError):
                continue
    return sorted(out, key=lambda f: (f.day, f.path.name))


def compress_closed(directory: Path, kind: str, now: datetime | None = None, grace: timedelta = timedelta(minutes=10),
                    ) -> list[Path]:
    """Gzip every file whose day ended more than ``grace`` ago; the plain file goes only once its
    compressed copy is complete (a crash leaves the plain file, never half a log)."""
    now = now or datetime.now(UTC)
    done = []
    for f in log_files(directory, kind):
        day_end = datetime.combine(f.day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        if f.compressed or now < day_end + grace:
            continue
        target = f.path.with_name(f.path.name + ".gz")
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        with f.path.open("rb") as src, gzip.open(tmp, "wb", compresslevel=6) as dst:
            shutil.copyfileobj(src, dst)
        tmp.replace(target)
        f.path.unlink()
        done.append(target)
    return done


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def held_since(directory: Path) -> date | None:
    """The oldest day a live reader's lease asks for; stale leases (dead process) are removed."""
    root = Path(directory) / LEASES
    oldest = None
    if not root.exists():
        return None
    for lease in root.glob("*.json"):
        try:
            data = json.loads(lease.read_text(encoding="utf-8"))
            pid, since = int(data["pid"]), date.fromisoformat(data["since"])
        except (OSError, ValueError, KeyError):
            continue
        if not _pid_alive(pid):
            lease.unlink(missing_ok=True)
            continue
        oldest = since if oldest is None else min(oldest, since)
    return oldest


@contextmanager
def hold(directory: Path, since: datetime | date | None) -> Iterator[None]:
    """While inside, pruning keeps every log file from ``since``'s day on (all of them for None)."""
    root = Path(directory) / LEASES
    root.mkdir(parents=True, exist_ok=True)
    day = (since.date() if isinstance(since, datetime) else since) if since is not None else date.min
    lease = root / f"{os.getpid()}-{uuid.uuid4().hex}.json"
    lease.write_text(json.dumps({"pid": os.getpid(), "since": day.isoformat()}), encoding="utf-8")
    try:
        yield
    finally:
        lease.unlink(missing_ok=True)


def prune(directory: Path, kind: str, max_age_days: int, max_mb: float, now: datetime | None = None,
          compress: bool = True) -> RetentionReport:
    """Delete files older than ``max_age_days``, gzip the closed days left, then delete oldest
    first until the kind's total is under ``max_mb``. Today's files and files a live lease holds
    stay (listed in ``held``)."""
    now = now or datetime.now(UTC)
    report = RetentionReport(bytes_before=sum(f.size for f in log_files(directory, kind)))
    today, held = now.date(), held_since(directory)
    cutoff = today - timedelta(days=max_age_days)

    def remove(f: LogFile) -> bool:
        if f.day >= today:
            return False
        if held is not None and f.day >= held:
            report.held.append(f.path)
            return False
        f.path.unlink(missing_ok=True)
        report.deleted.append(f.path)
        return True

    for f in log_files(directory, kind):
        if f.day < cutoff:
            remove(f)
    if compress:
        report.compressed = compress_closed(directory, kind, now)
    files = log_files(directory, kind)
    total = sum(f.size for f in files)
    for f in files:
        if total <= max_mb * 1e6:
            break
        if remove(f):
            total -= f.size
    report.bytes_after = sum(f.size for f in log_files(directory, kind))
    return report


def oldest_day(directory: Path, kind: str) -> date | None:
    files = log_files(directory, kind)
    return files[0].day if files else None
