"""The batch step: postings in, keyword and posting rows out, in committed parts.

Each part of ``part_size`` postings goes through the models at once: the tagger sorts the
windows of all its postings by length (little padding, large batches), each distinct keyword
phrase of the part is linked and grouped once, the occupation model ranks all its postings in one
call. A part whose batch call fails is retried posting by posting, so one bad posting costs its
own row (``status: failed`` with the error, and a quarantine row), never the part.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from common.batch.config import BatchConfig
from common.batch.inputs import BadRow, Posting
from common.batch.models import BatchModels
from common.batch.output import DoneState, PartWriter

logger = logging.getLogger(__name__)


@dataclass
class BatchSummary:
    """What a run did; ``words_per_s`` counts the postings extracted in this run."""

    extracted: int = 0
    failed: int = 0
    skipped_done: int = 0
    quarantined: int = 0
    keywords: int = 0
    skills: int = 0
    words: int = 0
    parts: int = 0
    seconds: float = 0.0
    models: str = ""
    out_dir: str = ""
    by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def words_per_s(self) -> float:
        return self.words / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "words_per_s": round(self.words_per_s, 1),
                "postings_per_s": round(self.extracted / self.seconds, 2) if self.seconds else 0.0}

    def count_bad(self, bad: list[BadRow]) -> None:
        self.quarantined += len(bad)
        for b in bad:
            reason = b.reason.split(" (")[0].split(";")[0]
            self.by_reason[reason] = self.by_reason.get(reason, 0) + 1

    def count_part(self, got: dict[str, Any]) -> None:
        """Add one committed part's counts (``commit_part``'s answer)."""
        for key in ("extracted", "failed", "keywords", "skills", "words"):
            setattr(self, key, getattr(self, key) + got[key])
        self.parts += 1

    def save(self) -> None:
        (Path(self.out_dir) / "summary.json").write_text(json.dumps(self.as_dict(), indent=2), encoding="utf-8")


def quarantine_rows(bad: list[BadRow], post_rows: list[dict]) -> list[dict]:
    """Quarantine rows of the refused input rows and of the postings the model failed on."""
    return ([{"source": b.source, "line": b.line, "id": b.id, "reason": b.reason, "excerpt": b.excerpt} for b in bad]
            + [{"source": "model", "line": 0, "id": r["posting_id"], "reason": r["error"], "excerpt": ""}
               for r in post_rows if r["status"] == "failed"])


def commit_part(writer: PartWriter, models: BatchModels, todo: list[Posting], bad: list[BadRow],
                cfg: BatchConfig) -> dict[str, Any]:
    """Extract ``todo``, commit it with ``bad`` as one part; its counts and its rows (``rows``)."""
    post_rows, kw_rows, skill_rows = extract_part(models, todo, cfg) if todo else ([], [], None)
    writer.commit(post_rows, kw_rows, quarantine_rows(bad, post_rows), skill_rows)
    failed = sum(r["status"] == "failed" for r in post_rows)
    return {"extracted": len(post_rows) - failed, "failed": failed, "keywords": len(kw_rows),
            "skills": len(skill_rows or []), "words": sum(r["words"] for r in post_rows), "postings": len(todo),
            "rows": (post_rows, kw_rows)}


def set_threads(cfg: BatchConfig) -> None:
    from common.core.settings import use_threads

    use_threads(cfg.threads)


def _extract(models: BatchModels, texts: list[str]) -> list[Any]:
    """Keywords per text, or the exception for the texts that fail alone."""
    try:
        return list(models.tagger.extract(texts))
    except Exception:  # noqa: BLE001  (find the posting that breaks the batch)
        logger.exception("a batch of %d postings failed; extracting them one by one", len(texts))
    out: list[Any] = []
    for t in texts:
        try:
            out.append(models.tagger.extract([t])[0])
        except Exception as exc:  # noqa: BLE001
            out.append(exc)
    return out


def posting_skill_rows(models: BatchModels, postings: list[Posting], found: list[Any]
                       ) -> tuple[list[dict], dict[str, Any]]:
    """Each posting's ESCO skills as rows (``ExtractedSkill``), and the links of its keywords' phrases,
    from one linking pass per posting (``common.linking.skills.link_posting``)."""
    from common.linking.phrases import phrase_key
    from common.linking.skills import link_posting

    rows: list[dict] = []
    links: dict[str, Any] = {}
    for p, kws in zip(postings, found, strict=True):
        if isinstance(kws, Exception):
            continue
        res = link_posting(models.linker, p.text, kws)
        links.update((phrase_key(k.text), link) for k, link in zip(kws, res.links, strict=True))
        rows += [{"posting_id": p.id, "models": models.paths.key, "rank": i, "uri": s.uri, "label": s.label,
                  "score": s.score, "implied": s.implied, "evidence": " | ".join(e.text for e in s.evidence)}
                 for i, s in enumerate(res.skills, start=1)]
    return rows, links


def extract_part(models: BatchModels, postings: list[Posting], cfg: BatchConfig
                 ) -> tuple[list[dict], list[dict], list[dict] | None]:
    """(posting rows, keyword rows, skill rows) of one part (``common.data.records`` fields); skill
    rows are None unless ``cfg.skills`` with a linker."""
    from common.linking.phrases import phrase_key, unique_phrases

    texts = [p.text for p in postings]
    found = _extract(models, texts)
    ok = [kws for kws in found if not isinstance(kws, Exception)]
    phrases = unique_phrases(k.text for kws in ok for k in kws)
    links: dict[str, Any] = {}
    codes: dict[str, list[str]] = {}
    skill_rows: list[dict] | None = None
    if cfg.skills and models.linker is not None:  # the skills pass links every phrase as well
        skill_rows, skill_links = posting_skill_rows(models, postings, found)
        links = skill_links if cfg.links else {}
    elif phrases and cfg.links and models.linker is not None:
        links = {phrase_key(p): r.linked for p, r in zip(phrases, models.linker.link(phrases, top_k=1), strict=True)}
    if phrases and cfg.groups and models.groups is not None:
        from common.linking.groups import linked_groups

        lg = linked_groups(phrases, models.linker if cfg.links else None, models.groups, level=cfg.level,
                           links=[links.get(phrase_key(p)) for p in phrases])
        codes = {phrase_key(p): [g.code for g in d.decision.groups] for p, d in zip(phrases, lg, strict=True)}
    occ: list[Any] = [None] * len(postings)
    if cfg.occupations and models.occupations is not None:
        om = models.occupations
        skills = []
        for kws in found:
            kws = [] if isinstance(kws, Exception) else kws
            linked = [links[phrase_key(k.text)].uri if links.get(phrase_key(k.text)) else None for k in kws]
            skills.append(om.keyword_skills([k.text for k in kws], linked))
        occ = list(zip(om.analyze(texts, [[u for u in s if u] for s in skills], top_k=1), skills, strict=True))
    paths = models.paths
    base = {"models": paths.key, "keyword_model": paths.tag("keywords"), "linker_model": paths.tag("linker"),
            "group_model": paths.tag("groups"), "occupation_model": paths.tag("occupations")}
    post_rows: list[dict] = []
    kw_rows: list[dict] = []
    for i, (p, kws) in enumerate(zip(postings, found, strict=True)):
        row = {**base, "posting_id": p.id, "words": len(p.text.split())}
        if isinstance(kws, Exception):
            post_rows.append({**row, "n_keywords": 0, "status": "failed", "error": f"{type(kws).__name__}: {kws}"})
            continue
        result, uris = occ[i] if occ[i] is not None else (None, [None] * len(kws))
        top = result.occupations[0] if result is not None and result.occupations else None
        post_rows.append({**row, "n_keywords": len(kws), "status": "ok", "error": None,
                          "occupation_uri": top.uri if top else None, "occupation_label": top.label if top else None,
                          "isco": top.isco if top else None, "occupation_score": top.score if top else None})
        for k, uri in zip(kws, uris, strict=True):
            link = links.get(phrase_key(k.text))
            kw_rows.append({"posting_id": p.id, "models": paths.key, "start": k.start, "end": k.end, "text": k.text,
                            "type": k.type, "confidence": round(float(k.score), 4),
                            "esco_uri": link.uri if link else None, "esco_label": link.label if link else None,
                            "link_score": round(float(link.score), 4) if link else None,
                            "groups": codes.get(phrase_key(k.text), []),
                            "importance": result.importance.get(uri) if (result is not None and uri) else None})
    return post_rows, kw_rows, skill_rows


def pending_parts(rows: Iterable[Posting | BadRow], done: DoneState, size: int, limit: int | None,
           summary: BatchSummary) -> Iterator[tuple[list[Posting], list[BadRow]]]:
    """Postings still to do, in parts of ``size``, with the bad rows met since the last part."""
    todo: list[Posting] = []
    bad: list[BadRow] = []
    taken = 0
    for row in rows:
        if isinstance(row, BadRow):
            if row.key not in done.quarantined:
                bad.append(row)
            continue
        if row.id in done.posting_ids:
            summary.skipped_done += 1
            continue
        if limit is not None and taken >= limit:
            break
        todo.append(row)
        taken += 1
        if len(todo) >= size:
            yield todo, bad
            todo, bad = [], []
    if todo or bad:
        yield todo, bad


def run_batch(rows: Iterable[Posting | BadRow], out_dir: str | Path, models: BatchModels, cfg: BatchConfig,
              done: DoneState, limit: int | None = None, progress: bool = True, total: int | None = None,
              prefix: str | None = None, on_part: Callable[[list[dict], list[dict]], Any] | None = None) -> BatchSummary:
    """Extract every posting of ``rows`` not in ``done``, committing a part each ``cfg.part_size``
    postings; bad rows go to the quarantine with their reason. ``on_part(posting rows, keyword
    rows)`` runs after each commit (the store variant writes them to the store). Returns the summary."""
    from tqdm.auto import tqdm

    set_threads(cfg)
    writer = PartWriter(out_dir, prefix)
    summary = BatchSummary(models=models.paths.key, out_dir=str(out_dir))
    bar = tqdm(total=total, unit="posting", desc="extracting", disable=not progress, dynamic_ncols=True)
    t0 = time.perf_counter()
    for todo, bad in pending_parts(rows, done, cfg.part_size, limit, summary):
        got = commit_part(writer, models, todo, bad, cfg)
        if on_part is not None and got["rows"][0]:
            on_part(*got["rows"])
        summary.count_part(got)
        summary.count_bad(bad)
        summary.seconds = time.perf_counter() - t0
        bar.update(len(todo) + len(bad))
        bar.set_postfix(words_s=f"{summary.words_per_s:,.0f}", done=summary.extracted, bad=summary.quarantined)
    bar.close()
    summary.seconds = time.perf_counter() - t0
    summary.save()
    return summary
