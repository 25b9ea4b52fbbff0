"""Row models of the data store: what each table holds, one pydantic model per table.

The store (``common.data.storage``) accepts lists of these models (or plain dicts, or DataFrames with
the same columns) and returns DataFrames with the same columns. Identifiers are derived from
content so that re-running a stage on the same input produces the same keys, which is what
makes every write idempotent.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

PostingStatus = Literal["new", "valid", "quarantined"]
LabelKind = Literal["span", "group"]

_WS = re.compile(r"\s+")


def utcnow() -> datetime:
    """Naive UTC timestamp (both DuckDB and PostgreSQL ``TIMESTAMP`` columns store it as is)."""
    return datetime.now(UTC).replace(tzinfo=None)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_hash(text: str) -> str:
    """Hash of a text after collapsing whitespace: the same posting re-scraped hashes the same."""
    return sha256(_WS.sub(" ", text or "").strip())


def stable_id(*parts: Any, prefix: str = "", length: int = 16) -> str:
    """A short deterministic id from any JSON-serialisable parts."""
    raw = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return prefix + sha256(raw)[:length]


class RawPage(BaseModel):
    """A fetched (or read) HTML page, before extraction; keyed by (url, content_hash)."""

    url: str
    content_hash: str = ""
    final_url: str | None = None
    status_code: int | None = None
    content_type: str | None = None
    html: str
    source: str = "web"
    fetched_at: datetime = Field(default_factory=utcnow)
    run_id: str | None = None

    def model_post_init(self, __context: Any) -> None:
        if not self.content_hash:
            self.content_hash = sha256(self.html)


class PostingRecord(BaseModel):
    """A clean posting: main text plus JSON-LD fields when the page had them.

    ``posting_id`` defaults to one derived from the content hash, so the same text never lands
    twice; callers that have their own ids (SkillSpan ``doc_id``) pass them.
    """

    posting_id: str = ""
    url: str | None = None
    content_hash: str = ""
    source: str = "web"
    title: str | None = None
    organisation: str | None = None
    date_posted: str | None = None
    skills: list[str] = Field(default_factory=list)
    text: str
    text_source: str = "trafilatura"
    language: str | None = None
    split: str | None = None
    status: PostingStatus = "new"
    ingested_at: datetime = Field(default_factory=utcnow)
    run_id: str | None = None

    def model_post_init(self, __context: Any) -> None:
        if not self.content_hash:
            self.content_hash = content_hash(self.text)
        if not self.posting_id:
            self.posting_id = "p-" + self.content_hash[:16]


class LabelRecord(BaseModel):
    """One annotator's label for one item.

    ``kind="span"``: ``doc_id`` is a posting, ``item`` a sentence index, ``value`` is
    ``{"tokens": [...], "tags": {"Skill": [BIO...], "Knowledge": [BIO...]}}``.
    ``kind="group"``: ``doc_id`` identifies a skill (ESCO uri or the string), ``item`` the skill
    text, ``value`` is ``{"skill": str, "groups": [codes], "level": 1|2}``.
    Keyed by (kind, doc_id, item, annotator).
    """

    label_id: str = ""
    kind: LabelKind
    doc_id: str
    item: str = ""
    annotator: str
    value: dict[str, Any]
    source: str = "crowd"
    status: PostingStatus = "new"
    created_at: datetime = Field(default_factory=utcnow)
    run_id: str | None = None

    def model_post_init(self, __context: Any) -> None:
        if not self.label_id:
            self.label_id = stable_id(self.kind, self.doc_id, self.item, self.annotator, prefix="l-")


class MergedLabelRecord(BaseModel):
    """The merged label of one item (crowd merging output); keyed by (kind, doc_id, item)."""

    kind: LabelKind
    doc_id: str
    item: str = ""
    value: dict[str, Any]
    confidence: float | None = None
    method: str = ""
    n_annotators: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    run_id: str | None = None


class QuarantineRecord(BaseModel):
    """A row that a stage refused, with why; nothing is dropped without one of these."""

    quarantine_id: str = ""
    stage: str
    source_table: str = ""
    row_key: str = ""
    reason: str
    expectation: str | None = None
    row: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)
    run_id: str | None = None

    def model_post_init(self, __context: Any) -> None:
        if not self.quarantine_id:
            self.quarantine_id = stable_id(
                self.stage, self.source_table, self.row_key, self.reason, self.expectation, prefix="q-"
            )


class ExtractedKeyword(BaseModel):
    """One keyword of a batch extraction (``common.batch``): a row of ``keywords/*.parquet`` and of
    the store's ``extracted_keywords`` table. ``models`` names the models that made it."""

    posting_id: str
    models: str
    start: int
    end: int
    text: str
    type: str
    confidence: float
    esco_uri: str | None = None
    esco_label: str | None = None
    link_score: float | None = None
    groups: list[str] = Field(default_factory=list)
    importance: str | None = None


class ExtractedSkill(BaseModel):
    """One ESCO skill of a posting in a batch extraction (``BatchConfig.skills``): a row of
    ``skills/*.parquet``, best first per posting (``rank`` from 1). ``implied``: no keyword is
    linked to it, a sentence implies it; ``evidence``: the keyword texts (joined by " | ") or that
    sentence (``common.linking.skills``)."""

    posting_id: str
    models: str
    rank: int
    uri: str
    label: str
    score: float
    implied: bool
    evidence: str


class ExtractedPosting(BaseModel):
    """One posting of a batch extraction: a row of ``postings/*.parquet`` and of the store's
    ``extracted_postings`` table; ``status`` is ``ok`` or ``failed`` (with ``error``)."""

    posting_id: str
    models: str
    words: int = 0
    n_keywords: int = 0
    keyword_model: str | None = None
    linker_model: str | None = None
    group_model: str | None = None
    occupation_model: str | None = None
    occupation_uri: str | None = None
    occupation_label: str | None = None
    isco: str | None = None
    occupation_score: float | None = None
    status: str = "ok"
    error: str | None = None
    extracted_at: datetime = Field(default_factory=utcnow)


class RunRecord(BaseModel):
    """Metadata of one flow run (params, counts, status); keyed by ``run_id``."""

    run_id: str
    flow: str
    status: str = "running"
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)
