"""Collections to fit topics on when no stored postings are at hand: SkillSpan and ESCO occupations.

The benchmark (issue 8) uses SkillSpan train+dev postings together with ESCO occupation
descriptions, so that the topic models see both real postings and a broad sweep of occupations.
"""

from __future__ import annotations

import csv
from pathlib import Path


def skillspan_texts(shared_data_dir: Path | None = None, splits: tuple[str, ...] = ("train", "dev")) -> tuple[list[str], list[str]]:
    """SkillSpan postings as texts (sentences on lines) and ids ``skillspan:<split>:<doc_id>``."""
    from common.data.skillspan import load_skillspan
    from common.text.spans import posting_text

    texts, ids = [], []
    for split in splits:
        for p in load_skillspan(split, data_dir=shared_data_dir):
            texts.append(posting_text(p))
            ids.append(f"skillspan:{split}:{p.doc_id}")
    return texts, ids


def esco_occupation_texts(esco_dir: Path) -> tuple[list[str], list[str]]:
    """ESCO occupation descriptions (preferred label as a first line) and ids ``esco:<uuid>``."""
    path = Path(esco_dir) / "occupations.csv"
    if not path.exists():
        raise FileNotFoundError(f"ESCO occupations not found at {path}")
    texts, ids = [], []
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            desc = (row.get("description") or "").strip()
            if desc:
                texts.append(f"{row['preferredLabel']}\n{desc}")
                ids.append("esco:" + row["conceptUri"].rsplit("/", 1)[-1])
    return texts, ids


def benchmark_collection(shared_data_dir: Path | None = None, max_docs: int | None = None) -> tuple[list[str], list[str]]:
    """SkillSpan train+dev postings plus ESCO occupation descriptions (optionally the first ``max_docs``
    of each source)."""
    from common.core.settings import get_settings

    s = get_settings()
    root = Path(shared_data_dir) if shared_data_dir else s.shared_data_dir
    t1, i1 = skillspan_texts(root)
    t2, i2 = esco_occupation_texts(root / "esco")
    if max_docs:
        t1, i1, t2, i2 = t1[:max_docs], i1[:max_docs], t2[:max_docs], i2[:max_docs]
    return t1 + t2, i1 + i2


def read_text_file(path: str | Path) -> tuple[list[str], list[str]]:
    """Texts from a file: JSONL with a ``text`` field (and optional ``posting_id``/``id``), or one text per
    blank-line-separated block of a plain text file."""
    import json

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no such file: {p}")
    raw = p.read_text(encoding="utf-8")
    if p.suffix == ".jsonl":
        rows = [json.loads(line) for line in raw.splitlines() if line.strip()]
        return [r["text"] for r in rows], [str(r.get("posting_id") or r.get("id") or i) for i, r in enumerate(rows)]
    blocks = [b.strip() for b in raw.split("\n\n") if b.strip()]
    return blocks, [str(i) for i in range(len(blocks))]
