"""One meaning of "latest model": a copy of a run's folder, published atomically.

Training writes each run to its own folder; ``publish_latest`` then copies it to
``<models>/<name>/latest`` through a temporary sibling and a rename, so a reader (the CLI, a
service, a flow) sees the old model or the new one, never half a model. Before, the tagger was
symlinked, the group model trained straight into ``latest`` and topics were copied: three rules
for one idea.
"""

from __future__ import annotations

import shutil
from pathlib import Path


def latest_dir(name: str) -> Path:
    """``<models_dir>/<name>/latest``: where ``publish_latest`` puts the last trained ``name``."""
    from common.core.settings import get_settings

    return get_settings().models_dir / name / "latest"


def publish_latest(run_dir: str | Path, latest: str | Path) -> Path:
    """Copy ``run_dir`` to ``latest`` (copy, then rename over the previous one) and return ``latest``."""
    run_dir, latest = Path(run_dir), Path(latest)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"model folder {run_dir} does not exist")
    if latest.is_symlink():  # a link left by an earlier version of the CLI
        latest.unlink()
    if latest.exists() and run_dir.resolve() == latest.resolve():
        return latest
    latest.parent.mkdir(parents=True, exist_ok=True)
    tmp = latest.with_name(f".{latest.name}.tmp")
    old = latest.with_name(f".{latest.name}.old")
    for leftover in (tmp, old):
        if leftover.exists():
            shutil.rmtree(leftover)
    shutil.copytree(run_dir, tmp)
    if latest.exists():
        latest.rename(old)
    tmp.rename(latest)
    if old.exists():
        shutil.rmtree(old)
    return latest
