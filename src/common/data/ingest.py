"""Ingest as data-in/data-out steps: sources -> raw pages -> postings, failures -> quarantine.

The Prefect flow (``flows/ingest.py``) only schedules these: network I/O (``common.data.scrape``)
in one kind of task, parsing (``page_to_posting``) in another, and one task that writes the
store. Every input ends either as a stored row or as a quarantine row with a reason.

Local inputs (``read_folder``): ``*.html``/``*.htm`` pages; ``*.txt`` (one posting per file);
``*.jsonl`` where each line is one of
* a SkillSpan sentence row (``tokens``, ``tags_skill``, ``tags_knowledge``, ``idx``,
  ``source``): consecutive rows make a posting, and their tags become ``gold`` span labels,
* a posting (``text``, optional ``title``, ``url``, ``organisation``, ``date_posted``,
  ``skills``, ``source``, ``posting_id``),
* a page (``html``, optional ``url``),
* a label (``kind``, ``doc_id``, ``annotator``, ``value``, optional ``item``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from common.core.config import StageConfig
from common.data.extract import ExtractConfig, extract_posting, guess_language
from common.data.records import LabelRecord, PostingRecord, QuarantineRecord, RawPage
from common.data.scrape import FetchResult, ScrapeConfig
from common.data.skillspan import group_postings
from common.text.spans import posting_text


class IngestConfig(StageConfig):
    """Ingest settings: fetching limits and extraction choices (YAML-loadable)."""

    scrape: ScrapeConfig = Field(default_factory=ScrapeConfig)
    extract: ExtractConfig = Field(default_factory=ExtractConfig)
    source: str = Field("web", description="Value of the `source` column for scraped postings.")
    max_urls: int = Field(10_000, gt=0)

class Batch(BaseModel):
    """What one ingest step produced; lists of store rows."""

    pages: list[RawPage] = Field(default_factory=list)
    postings: list[PostingRecord] = Field(default_factory=list)
    labels: list[LabelRecord] = Field(default_factory=list)
    quarantine: list[QuarantineRecord] = Field(default_factory=list)

    def extend(self, other: Batch) -> Batch:
        self.pages += other.pages
        self.postings += other.postings
        self.labels += other.labels
        self.quarantine += other.quarantine
        return self


def fetch_to_batch(result: FetchResult, run_id: str | None = None) -> Batch:
    """A fetched page becomes a raw page; a failed fetch becomes a quarantine row (stage ``fetch``)."""
    if result.ok and result.text is not None:
        return Batch(pages=[RawPage(url=result.url, final_url=result.final_url, status_code=result.status_code,
                                    content_type=result.content_type, html=result.text, run_id=run_id)])
    return Batch(quarantine=[QuarantineRecord(
        stage="fetch", source_table="raw_pages", row_key=result.url, reason=result.error or "unknown",
        row={"url": result.url, "detail": result.detail, "status_code": result.status_code,
             "final_url": result.final_url, "attempts": result.attempts, "redirects": result.redirects},
        run_id=run_id,
    )])


def page_to_posting(page: RawPage, cfg: ExtractConfig | None = None, source: str = "web",
                    run_id: str | None = None) -> Batch:
    """Extract the posting of one raw page; a page without posting text is quarantined."""
    try:
        ex = extract_posting(page.html, page.final_url or page.url, cfg)
    except Exception as exc:  # a broken page must not stop the batch
        return Batch(quarantine=[_q_extract(page, f"extraction_error: {type(exc).__name__}: {exc}", run_id)])
    if ex is None:
        return Batch(quarantine=[_q_extract(page, "no_posting_text", run_id)])
    return Batch(postings=[PostingRecord(
        url=page.url, source=source, title=ex.title, organisation=ex.organisation, date_posted=ex.date_posted,
        skills=ex.skills, text=ex.text, text_source=ex.text_source, language=ex.language, run_id=run_id,
    )])


def _q_extract(page: RawPage, reason: str, run_id: str | None) -> QuarantineRecord:
    return QuarantineRecord(stage="extract", source_table="raw_pages", row_key=page.url, reason=reason,
                            row={"url": page.url, "content_hash": page.content_hash, "chars": len(page.html)},
                            run_id=run_id)


def read_folder(folder: str | Path, cfg: IngestConfig | None = None, run_id: str | None = None) -> Batch:
    """Everything ingestible in ``folder`` (recursively); HTML pages come back unparsed in ``pages``."""
    cfg = cfg or IngestConfig()
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"ingest folder {folder} does not exist")
    out = Batch()
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        suffix = path.suffix.lower()
        if suffix in (".html", ".htm"):
            html = path.read_text(encoding="utf-8", errors="replace")
            out.pages.append(RawPage(url=path.resolve().as_uri(), html=html, source="file",
                                     content_type="text/html", run_id=run_id))
        elif suffix == ".txt":
            text = path.read_text(encoding="utf-8", errors="replace").strip()
            out.postings.append(PostingRecord(url=path.resolve().as_uri(), text=text, source="file",
                                              text_source="file", language=guess_language(text), run_id=run_id))
        elif suffix == ".jsonl":
            out.extend(read_jsonl(path, cfg, run_id))
    return out


def read_jsonl(path: Path, cfg: IngestConfig | None = None, run_id: str | None = None) -> Batch:
    """One JSONL file of postings, pages, labels or SkillSpan sentence rows (see module doc)."""
    out = Batch()
    sentence_rows: list[dict[str, Any]] = []
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            key = f"{Path(path).name}:{lineno}"
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError("a JSON object was expected")
                if "tokens" in row and "idx" in row:
                    sentence_rows.append(row)
                elif "html" in row:
                    out.pages.append(RawPage(url=row.get("url") or f"{Path(path).resolve().as_uri()}#{lineno}",
                                             html=row["html"], source=row.get("source", "file"), run_id=run_id))
                elif "annotator" in row and "kind" in row:
                    out.labels.append(LabelRecord(run_id=run_id, **row))
                elif "text" in row or "description" in row:
                    row = dict(row)
                    row.setdefault("text", row.pop("description", None))
                    row.setdefault("source", "file")
                    row.setdefault("text_source", "file")
                    if row.get("language") is None and isinstance(row.get("text"), str):
                        row["language"] = guess_language(row["text"])
                    out.postings.append(PostingRecord(run_id=run_id, **row))
                else:
                    raise ValueError("not a posting, page, label or SkillSpan row")
            except (ValueError, TypeError, ValidationError) as exc:
                out.quarantine.append(QuarantineRecord(
                    stage="ingest", source_table="file", row_key=key, reason="unreadable_row",
                    row={"line": line[:2000], "error": str(exc)[:500]}, run_id=run_id))
    if sentence_rows:
        split = Path(path).stem
        for posting in _group_safely(sentence_rows, split, path, out, run_id):
            text = posting_text(posting)
            out.postings.append(PostingRecord(posting_id=posting.doc_id, text=text, source=posting.source or "file",
                                              text_source="skillspan", split=split,
                                              language=guess_language(text), run_id=run_id))
            for i, s in enumerate(posting.sentences):
                out.labels.append(LabelRecord(kind="span", doc_id=posting.doc_id, item=str(i), annotator="gold",
                                              source="gold", value={"tokens": s.tokens, "tags": s.tags},
                                              run_id=run_id))
    return out


def _group_safely(rows: list[dict[str, Any]], split: str, path: Path, out: Batch, run_id: str | None):
    """SkillSpan rows grouped into postings; rows missing tag layers are quarantined, not fatal."""
    good = []
    for r in rows:
        if isinstance(r.get("tokens"), list) and isinstance(r.get("tags_skill"), list) and isinstance(
            r.get("tags_knowledge"), list
        ):
            good.append(r)
        else:
            out.quarantine.append(QuarantineRecord(
                stage="ingest", source_table="file", row_key=f"{Path(path).name}:idx={r.get('idx')}",
                reason="skillspan_row_without_tags", row={k: r.get(k) for k in ("idx", "source", "tokens")},
                run_id=run_id))
    return group_postings(good, split=split)


def host_slots(urls: list[str], min_interval_s: float, start: float) -> list[float]:
    """Earliest wall-clock start of each URL so that one host gets one request per interval.

    Computed once by the flow, these slots keep the per-host rate even when the fetch tasks run
    in different processes (Dask workers) that cannot share an in-memory limiter.
    """
    from urllib.parse import urlsplit

    seen: dict[str, int] = defaultdict(int)
    slots = []
    for u in urls:
        host = urlsplit(u).netloc
        slots.append(start + seen[host] * min_interval_s)
        seen[host] += 1
    return slots


def summarise(batch: Batch) -> dict[str, Any]:
    """Counts by kind, and failure reasons, for run metadata and the CLI."""
    reasons: dict[str, int] = defaultdict(int)
    for q in batch.quarantine:
        reasons[f"{q.stage}:{q.reason}"] += 1
    return {"pages": len(batch.pages), "postings": len(batch.postings), "labels": len(batch.labels),
            "quarantined": len(batch.quarantine), "reasons": dict(reasons)}
