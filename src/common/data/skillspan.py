"""Load SkillSpan (Zhang et al., NAACL 2022) as postings of ordered sentences.

Each JSONL line is a sentence with bare BIO tags in two layers, ``tags_skill`` and
``tags_knowledge``; consecutive lines with the same ``(source, idx)`` form one posting.
Both layers are kept because a token may be inside a Skill and a Knowledge span at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from common.core.types import Posting, Sentence


class DataMissingError(FileNotFoundError):
    """The real data folder (``../shared/data`` by default) is not on this machine."""


def read_sentences(path: Path) -> Iterable[dict]:
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from exc


def group_postings(rows: Iterable[dict], split: str = "") -> list[Posting]:
    """Group consecutive sentence rows by ``(source, idx)`` into postings, keeping order."""
    postings: list[Posting] = []
    key = None
    for row in rows:
        k = (row.get("source", ""), row["idx"])
        if k != key:
            postings.append(Posting(doc_id=f"{split or 'doc'}-{k[0]}-{k[1]}", source=k[0], sentences=[], split=split))
            key = k
        postings[-1].sentences.append(
            Sentence(
                tokens=list(row["tokens"]),
                tags={"Skill": list(row["tags_skill"]), "Knowledge": list(row["tags_knowledge"])},
            )
        )
    return postings


def load_skillspan(split: str, data_dir: Path | None = None) -> list[Posting]:
    """Postings of one split (``train`` or ``dev``) from ``<data_dir>/skillspan/<split>.jsonl``."""
    if data_dir is None:
        from common.core.settings import get_settings

        data_dir = get_settings().shared_data_dir
    path = Path(data_dir) / "skillspan" / f"{split}.jsonl"
    if not path.exists():
        raise DataMissingError(f"SkillSpan split {split!r} not found at {path}; set JOBSKILLS_SHARED_DATA_DIR")
    return group_postings(read_sentences(path), split=split)
