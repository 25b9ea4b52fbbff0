"""Data models shared by every stage: postings, sentences, keywords.

Keywords are always reported over the original string as ``(start, end, text, type, score)``
so that the web page can highlight them and feedback can point at them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field

KeywordType = Literal["Skill", "Knowledge"]
KEYWORD_TYPES: tuple[str, str] = ("Skill", "Knowledge")


class Keyword(BaseModel):
    """A keyword found in a text: character offsets into that text, its type and a confidence."""

    start: int = Field(ge=0)
    end: int = Field(gt=0)
    text: str
    type: KeywordType
    score: float = Field(1.0, ge=0.0, le=1.0)

    def key(self) -> tuple[int, int, str]:
        return (self.start, self.end, self.type)


@dataclass
class Sentence:
    """One SkillSpan sentence: tokens and one BIO layer per keyword type (layers may overlap)."""

    tokens: list[str]
    tags: dict[str, list[str]] = field(default_factory=dict)  # "Skill"/"Knowledge" -> BIO tags


@dataclass
class Posting:
    """A job posting as ordered sentences; ``text`` is rebuilt by ``common.text.spans.posting_text``."""

    doc_id: str
    source: str
    sentences: list[Sentence]
    split: str = ""
