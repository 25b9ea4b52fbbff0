"""Where batch extraction writes: parts that appear whole or not at all, so that a run killed at
any moment loses at most the part in flight, and a rerun knows exactly what is done.

Layout of ``out_dir``::

    keywords/part-<run>-<n>.parquet    one row a keyword   (common.data.records.ExtractedKeyword)
    skills/part-<run>-<n>.parquet      one row a posting's ESCO skill, with BatchConfig.skills (ExtractedSkill)
    postings/part-<run>-<n>.parquet    one row a posting   (common.data.records.ExtractedPosting)
    quarantine/part-<run>-<n>.parquet  one row a refused input row, with its reason
    summary.json                       the last run's counts and speed

A part is committed when its ``postings`` file is renamed into place (keywords, skills and
quarantine are renamed first): ``postings/`` is the list of what is done. A ``keywords``, ``skills``
or ``quarantine`` file without its ``postings`` file is the part a crash interrupted; ``done_state``
deletes it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from common.data.records import ExtractedKeyword, ExtractedPosting, ExtractedSkill

KINDS = ("keywords", "skills", "postings", "quarantine")
BEFORE_COMMIT = ("keywords", "skills", "quarantine")  # written before the postings file commits the part
QUARANTINE_COLUMNS = ["source", "line", "id", "reason", "excerpt"]


def _columns(model: type) -> list[str]:
    return list(model.model_fields)  # type: ignore[attr-defined]


COLUMNS = {"keywords": _columns(ExtractedKeyword), "skills": _columns(ExtractedSkill),
           "postings": _columns(ExtractedPosting), "quarantine": QUARANTINE_COLUMNS}


@dataclass
class DoneState:
    """What earlier runs committed: posting ids and quarantined input rows (``source:line``)."""

    posting_ids: set[str] = field(default_factory=set)
    quarantined: set[str] = field(default_factory=set)


def _parts(out_dir: Path, kind: str) -> list[Path]:
    d = out_dir / kind
    return sorted(p for p in d.glob("part-*.parquet")) if d.is_dir() else []


def done_state(out_dir: str | Path) -> DoneState:
    """Read the committed parts, removing the leftovers of an interrupted one."""
    out_dir = Path(out_dir)
    committed = {p.name for p in _parts(out_dir, "postings")}
    for kind in BEFORE_COMMIT:
        for p in _parts(out_dir, kind):
            if p.name not in committed:
                p.unlink()  # written just before a crash: its postings were never committed
    for kind in KINDS:
        for tmp in (out_dir / kind).glob("*.tmp") if (out_dir / kind).is_dir() else []:
            tmp.unlink()
    state = DoneState()
    for p in _parts(out_dir, "postings"):
        state.posting_ids.update(pd.read_parquet(p, columns=["posting_id"])["posting_id"].astype(str))
    for p in _parts(out_dir, "quarantine"):
        q = pd.read_parquet(p, columns=["source", "line"])
        state.quarantined.update(f"{s}:{int(n)}" for s, n in zip(q["source"], q["line"], strict=True))
    return state


def reset(out_dir: str | Path) -> None:
    """``--overwrite``: remove what earlier runs wrote (only the folders this module writes)."""
    out_dir = Path(out_dir)
    for kind in KINDS:
        shutil.rmtree(out_dir / kind, ignore_errors=True)
    (out_dir / "summary.json").unlink(missing_ok=True)


class PartWriter:
    """Writes numbered parts under a run-unique prefix (several workers may write to one folder)."""

    def __init__(self, out_dir: str | Path, prefix: str | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.prefix = prefix or uuid.uuid4().hex[:8]
        self.n = 0
        for kind in KINDS:
            (self.out_dir / kind).mkdir(parents=True, exist_ok=True)

    def commit(self, postings: list[dict], keywords: list[dict], quarantine: list[dict],
               skills: list[dict] | None = None) -> str:
        """Write one part: keywords, skills and quarantine first, the postings file last (the commit).
        ``skills`` None (the run does not rank them) writes no skills file."""
        name = f"part-{self.prefix}-{self.n:05d}.parquet"
        self.n += 1
        parts = [("keywords", keywords), *([("skills", skills)] if skills is not None else []),
                 ("quarantine", quarantine), ("postings", postings)]
        for kind, rows in parts:
            df = pd.DataFrame(rows, columns=COLUMNS[kind])
            target = self.out_dir / kind / name
            tmp = target.with_suffix(".tmp")
            df.to_parquet(tmp, index=False)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        return name


def read_output(out_dir: str | Path, kind: str) -> pd.DataFrame:
    """All committed rows of ``keywords`` / ``skills`` / ``postings`` / ``quarantine``, in part order."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    committed = {p.name for p in _parts(Path(out_dir), "postings")}
    parts = [p for p in _parts(Path(out_dir), kind) if p.name in committed]
    frames = [f for f in (pd.read_parquet(p) for p in parts) if len(f)]
    if not frames:
        return pd.DataFrame(columns=COLUMNS[kind])
    return pd.concat(frames, ignore_index=True)
