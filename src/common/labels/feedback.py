"""User feedback from the API as crowd labels: texts to postings, corrected keywords to token spans,
group corrections to categorical labels."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import pandas as pd

from common.core.types import KEYWORD_TYPES, Posting, Sentence
from common.labels.spans import SPAN_COLUMNS, SpanCrowd
from common.text.spans import char_spans_to_tokens, whitespace_tokens


def feedback_doc_id(text: str) -> str:
    """Stable id of a feedback text, so that several people correcting one text are merged."""
    return "fb-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def feedback_to_crowd(records: Iterable[dict[str, Any]]) -> tuple[list[Posting], SpanCrowd, pd.DataFrame]:
    """Turn feedback records (``common.data.request_log``) into postings, span labels and group labels.

    The text is split into lines (sentences) and whitespace tokens, the way the services
    tokenise raw input; each corrected keyword's character span becomes a token span. A
    record without ``annotator`` counts as the anonymous annotator ``feedback``. Group
    feedback ``{skill: [codes]}`` becomes one categorical label per skill (the first code).
    """
    postings: dict[str, Posting] = {}
    span_rows, assign, group_rows = [], set(), []
    for rec in records:
        ann = str(rec.get("annotator") or "feedback")
        text = rec.get("text") or ""
        if text.strip():
            doc = feedback_doc_id(text)
            lines = text.split("\n")
            if doc not in postings:
                sents = []
                for line in lines:
                    toks, _ = whitespace_tokens(line)
                    sents.append(Sentence(tokens=toks, tags={k: ["O"] * len(toks) for k in KEYWORD_TYPES}))
                postings[doc] = Posting(doc_id=doc, source="feedback", sentences=sents, split="feedback")
            assign.add((doc, ann))
            base = 0
            for si, line in enumerate(lines):
                toks, offs = whitespace_tokens(line)
                offs = [(base + s, base + e) for s, e in offs]
                for kw in rec.get("keywords") or []:
                    ks, ke, kt = int(kw["start"]), int(kw["end"]), kw.get("type", "Skill")
                    if kt not in KEYWORD_TYPES or ke <= base or ks >= base + len(line):
                        continue
                    for s, e, t in char_spans_to_tokens([(ks, ke, kt)], offs):
                        span_rows.append((doc, si, t, s, e, ann))
                base += len(line) + 1
        for skill, codes in (rec.get("groups") or {}).items():
            if codes:
                group_rows.append((str(skill), ann, str(codes[0] if isinstance(codes, list) else codes)))
    crowd = SpanCrowd(
        spans=pd.DataFrame(span_rows, columns=SPAN_COLUMNS).drop_duplicates(),
        assignments=pd.DataFrame(sorted(assign), columns=["doc_id", "annotator"]),
    )
    return list(postings.values()), crowd, pd.DataFrame(group_rows, columns=["task", "worker", "label"])
