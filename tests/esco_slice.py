"""A small shared-data folder cut from the real one: the Decorte validation files and the ESCO
skills they name (plus optional others), so that linker tests index hundreds of skills, not 13,574."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest


def write_esco_slice(shared_data: Path, root: Path, others: int = 0, max_gold: int | None = None) -> Path:
    """``root/esco/skills.csv`` (the validation files' skills, the first ``max_gold`` of them when
    given, plus ``others`` random ones) and ``root/decorte/*``; skips the test when data is absent."""
    (root / "esco").mkdir(parents=True, exist_ok=True)
    (root / "decorte").mkdir(exist_ok=True)
    gold: set[str] = set()
    for name in ("tech", "house"):
        src = shared_data / "decorte" / f"{name}_validation_annotations.csv"
        if not src.exists():
            pytest.skip(f"{src} not found")
        df = pd.read_csv(src, dtype=str, keep_default_na=False)
        df.to_csv(root / "decorte" / src.name, index=False)
        gold |= set(df["label"])
    raw = pd.read_csv(shared_data / "esco" / "skills.csv", dtype=str, keep_default_na=False)
    part = raw[raw["label"].isin(gold)]
    part = part.head(max_gold) if max_gold else part
    if others:
        part = pd.concat([part, raw[~raw["label"].isin(gold)].sample(others, random_state=0)])
    part.to_csv(root / "esco" / "skills.csv", index=False)
    return root
