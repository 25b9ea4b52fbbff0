"""The small built-in sample that ``jobskills quickstart`` runs the whole pipeline on.

The files under ``sample_data/`` (SkillSpan-style JSONL, ESCO-style CSVs, an inbox with crowd
labels, the quickstart config) ship with the package; ``common.testing.sample_build`` rebuilds
them from their sources (``python -m common.testing.sample_build``).
"""

from __future__ import annotations

from pathlib import Path

SAMPLE_DIR = Path(__file__).resolve().parent / "sample_data"
