"""Versions recorded with every registered model: which data and which code produced it.

A model in the registry must be traceable: the data version is a content hash of the training
records (order-independent, so re-ingesting the same postings gives the same version), the
code version is the git commit when the project runs from a checkout, else the package version.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterable
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any


def _canonical(obj: Any) -> str:
    if is_dataclass(obj) and not isinstance(obj, type):
        obj = asdict(obj)
    elif hasattr(obj, "model_dump"):
        obj = obj.model_dump(mode="json")
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str)


def data_version(records: Iterable[Any]) -> str:
    """``sha256:<16 hex>`` over the sorted hashes of the records (postings, dicts, dataclasses)."""
    digests = sorted(hashlib.sha256(_canonical(r).encode("utf-8")).hexdigest() for r in records)
    h = hashlib.sha256("\n".join(digests).encode("ascii")).hexdigest()
    return f"sha256:{h[:16]}"


def files_version(paths: Iterable[Path]) -> str:
    """Content hash of files (e.g. the data files a run read), independent of their order."""
    digests = []
    for p in paths:
        p = Path(p)
        if p.is_file():
            digests.append(hashlib.sha256(p.read_bytes()).hexdigest())
    h = hashlib.sha256("\n".join(sorted(digests)).encode("ascii")).hexdigest()
    return f"sha256:{h[:16]}"


def code_version() -> str:
    """``git:<commit>[+dirty]`` when running from a checkout, else ``jobskills==<version>``."""
    from common import __version__

    root = Path(__file__).resolve().parents[3]
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return f"git:{sha[:12]}{'+dirty' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        return f"jobskills=={__version__}"
