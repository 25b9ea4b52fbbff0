"""Turn the services' request logs into a drift window, and SkillSpan into monitored items.

The services (``services/api.py``) log one record per posting for ``extract``,
``extract_batch`` and ``analyze``: ``input = {"text": ...}`` and
``output = {"keywords": [{start, end, text, type, score, groups?: [{code, label, level, score}]}]}``.
Records of other endpoints (``classify``, ``match``...) carry no posting and are ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common.data.request_log import iter_jsonl
from common.monitoring.descriptors import MonitoredItem

POSTING_ENDPOINTS = ("extract", "extract_batch", "analyze")


def item_from_record(rec: dict[str, Any], group_level: int | None = None) -> MonitoredItem | None:
    """One request-log record as a monitored item; None when it holds no posting text.

    Group codes are kept only when the request asked for ``group_level`` (when given): level-1
    and level-2 codes are different alphabets and must not be compared with each other.
    """
    inp, out = rec.get("input"), rec.get("output")
    text = inp.get("text") if isinstance(inp, dict) else inp if isinstance(inp, str) else None
    if not isinstance(text, str) or not text.strip():
        return None
    kws = out.get("keywords", []) if isinstance(out, dict) else out if isinstance(out, list) else []
    pairs: list[tuple[str, float]] = []
    groups: list[str] = []
    saw_groups = False
    for k in kws:
        if not isinstance(k, dict) or not isinstance(k.get("text"), str):
            continue
        try:
            score = float(k.get("score", 1.0))
        except (TypeError, ValueError):
            score = 1.0
        pairs.append((k["text"], score))
        if isinstance(k.get("groups"), list):
            saw_groups = True
            top = max((g for g in k["groups"] if isinstance(g, dict) and "code" in g),
                      key=lambda g: float(g.get("score", 0.0)), default=None)
            if top is not None:
                groups.append(str(top["code"]))
    level = inp.get("level") if isinstance(inp, dict) else None
    if group_level is not None and level is not None and level != group_level:
        saw_groups = False
    return MonitoredItem(
        text=text,
        keywords=tuple(pairs),
        groups=tuple(groups) if saw_groups else None,
        ts=rec.get("ts"),
        model_tag=rec.get("model_tag"),
    )


def load_window(
    logs_dir: str | Path,
    hours: float | None = None,
    endpoints: Sequence[str] = POSTING_ENDPOINTS,
    now: datetime | None = None,
    limit: int | None = None,
    group_level: int | None = None,
) -> list[MonitoredItem]:
    """Postings served in the last ``hours`` (all when None), newest ``limit`` kept."""
    since = None
    if hours is not None:
        since = (now or datetime.now(UTC)) - timedelta(hours=hours)
    items = []
    for rec in iter_jsonl(Path(logs_dir), "requests", since=since):
        if rec.get("endpoint") not in endpoints:
            continue
        item = item_from_record(rec, group_level)
        if item is not None:
            items.append(item)
    if limit is not None and len(items) > limit:
        items = items[-limit:]
    return items


def skillspan_items(
    postings: Sequence[Any],
    predict: Callable[[list[str]], list[list[Any]]] | None = None,
    group_of: Callable[[list[str]], list[str | None]] | None = None,
) -> list[MonitoredItem]:
    """SkillSpan postings as monitored items, with keywords from ``predict`` or the gold labels.

    ``predict`` is e.g. ``KeywordTagger.extract``; without it the gold keywords stand in for a
    perfect tagger (score 1.0), which is what tests use. ``group_of`` maps keyword strings to
    their top group code (e.g. from ``GroupModel.predict``).
    """
    from common.text.spans import gold_keywords, posting_text

    texts = [posting_text(p) for p in postings]
    preds = predict(texts) if predict is not None else [gold_keywords(p) for p in postings]
    all_pairs = [tuple((k.text, float(k.score)) for k in kws) for kws in preds]
    codes: list[str | None] = []
    if group_of is not None:  # one call for every keyword: the group model embeds in batches
        codes = list(group_of([k for pairs in all_pairs for k, _ in pairs]))
    items, pos = [], 0
    for text, pairs in zip(texts, all_pairs, strict=True):
        groups = None
        if group_of is not None:
            groups = tuple(c for c in codes[pos:pos + len(pairs)] if c is not None)
            pos += len(pairs)
        items.append(MonitoredItem(text=text, keywords=pairs, groups=groups))
    return items


def training_skills(postings: Iterable[Any]) -> list[list[str]]:
    """The labelled keyword strings of each posting (the 'known skills' of the reference)."""
    from common.text.spans import gold_keywords

    return [[k.text for k in gold_keywords(p)] for p in postings]


def log_items(logs_dir: str | Path, items: Iterable[MonitoredItem], endpoint: str = "extract",
              model_tag: str | None = None) -> int:
    """Write items as request-log records in the services' format (replays, demos, tests)."""
    from common.data.request_log import log_request

    n = 0
    for it in items:
        kws = []
        for i, (text, score) in enumerate(it.keywords):
            start = max(it.text.find(text), 0)
            kw: dict[str, Any] = {"start": start, "end": start + max(1, len(text)), "text": text, "type": "Skill",
                                  "score": score}
            if it.groups is not None and i < len(it.groups):
                kw["groups"] = [{"code": it.groups[i], "label": it.groups[i], "level": 1, "score": 1.0}]
            kws.append(kw)
        log_request(Path(logs_dir), endpoint, model_tag or it.model_tag, 0.0, {"text": it.text}, {"keywords": kws})
        n += 1
    return n
