"""ESCO skills and skill groups (``../shared/data/esco``) as typed pandas frames.

Why a loader of its own: the CSVs keep multi-label group codes as ``;``-separated strings and
codes such as ``00``/``011`` look like numbers, so reading them naively loses leading zeros.
Here every code stays a string and the group lists become Python lists, ready for the
classifier (``common.groups.model``) and for the validation suites.

This service uses the ESCO classification of the European Commission.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd

Split = Literal["train", "dev", "test"]
SKILL_COLUMNS = ("uri", "label", "text", "pillar", "groups_l1", "groups_l2")


class EscoMissingError(FileNotFoundError):
    """The ESCO folder or one of its files is absent (a user machine without ``shared/data``)."""


def esco_dir(data_dir: Path | str | None = None) -> Path:
    """``data_dir`` when given, else ``settings.esco_dir``."""
    if data_dir is not None:
        return Path(data_dir)
    from common.core.settings import get_settings

    return get_settings().esco_dir


def split_codes(value: object) -> list[str]:
    """``"S4.2;S4.8"`` -> ``["S4.2", "S4.8"]``; empty or missing -> ``[]``."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return []
    return [c.strip() for c in str(value).split(";") if c.strip()]


def load_skills(split: Split, data_dir: Path | str | None = None) -> pd.DataFrame:
    """Skills of one split with ``groups_l1``/``groups_l2`` as lists of code strings."""
    path = esco_dir(data_dir) / f"skills_{split}.csv"
    if not path.exists():
        raise EscoMissingError(f"ESCO skills file not found: {path}")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in SKILL_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path} lacks columns {missing}")
    for col in ("groups_l1", "groups_l2"):
        df[col] = df[col].map(split_codes)
    df["text"] = df["text"].where(df["text"].str.strip() != "", df["label"])
    return df.reset_index(drop=True)


def load_groups(data_dir: Path | str | None = None) -> pd.DataFrame:
    """The group table (``code,label,level,parent_code,uri``) with ``level`` as int."""
    path = esco_dir(data_dir) / "groups.csv"
    if not path.exists():
        raise EscoMissingError(f"ESCO groups file not found: {path}")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df["level"] = df["level"].astype(int)
    return df.reset_index(drop=True)


def skills_frame(rows: list[dict]) -> pd.DataFrame:
    """A hand-made skills frame (tests, small taxonomies): fills ``uri``/``text``/``pillar``.

    Each row needs ``label`` and ``groups_l2`` (list or ``;`` string); ``groups_l1`` defaults
    to nothing and is derived from parents by ``GroupTaxonomy`` users when needed.
    """
    df = pd.DataFrame(rows)
    if "label" not in df:
        raise ValueError("skills need a 'label'")
    df["uri"] = df.get("uri", pd.Series([f"skill:{i}" for i in range(len(df))]))
    df["text"] = df["text"] if "text" in df else df["label"]
    df["pillar"] = df["pillar"] if "pillar" in df else "S"
    for col in ("groups_l1", "groups_l2"):
        if col not in df:
            df[col] = [[] for _ in range(len(df))]
        df[col] = df[col].map(lambda v: list(v) if isinstance(v, (list, tuple)) else split_codes(v))
    return df[list(SKILL_COLUMNS)].reset_index(drop=True)
