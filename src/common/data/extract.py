"""Posting text and fields from an HTML page: the parsing half of ingest (no network here).

Two sources, both from well-kept libraries:

* schema.org ``JobPosting`` JSON-LD (extruct): title, description, skills, hiring
  organisation, date posted. When a page has it, its description is the posting as the site
  itself published it, with no navigation or adverts around it.
* the page's main text (trafilatura): for pages without JSON-LD, or with a description too
  short to be the posting.

``extract_posting`` returns an ``Extracted`` with the chosen text and where it came from, or
``None`` when neither source gives enough text.
"""

from __future__ import annotations

import html as html_lib
import re
from typing import Any, Literal

from pydantic import BaseModel, Field

from common.core.config import StrictModel

_BLOCK_TAGS = re.compile(r"(?i)<\s*(br|/p|/div|/li|/h[1-6]|/tr|/ul|/ol|p|li|h[1-6])\b[^>]*>")
_TAG = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_NEWLINES = re.compile(r"\n\s*\n+")

# Frequent function words per language: a cheap language check without a model download.
_STOPWORDS = {
    "en": frozenset(
        "the of and to a in for is on that with as are be this you will or by an at we our from "
        "your have it not can all us has their which they who more other its about any these been "
        "would should must into such may than also".split()
    ),
    "de": frozenset(
        "der die das und in zu den von mit sich des auf für ist im dem nicht ein eine als auch es an "
        "werden aus er hat dass sie nach wird bei einer um am sind noch wie einem über einen so zum "
        "wir unser unsere ihre sie mit".split()
    ),
    "fr": frozenset(
        "le la les de des du et en un une pour que qui dans est au aux par sur pas plus avec ce ses "
        "nous vous votre notre sont être".split()
    ),
    "es": frozenset(
        "el la los las de del y en un una para que con por se su al es lo como más pero sus nuestro "
        "nuestra buscamos somos".split()
    ),
    "nl": frozenset("de het een en van in is op te dat die voor met zijn niet aan er wij ons onze je jouw".split()),
}


class ExtractConfig(StrictModel):
    """How to choose and clean the posting text."""

    prefer_jsonld: bool = Field(True, description="Use the JSON-LD description when it is long enough.")
    min_jsonld_chars: int = Field(80, ge=0, description="Shorter JSON-LD descriptions fall back to trafilatura.")
    min_text_chars: int = Field(40, ge=0, description="Pages yielding less text than this give no posting.")
    favor: Literal["precision", "balanced", "recall"] = Field(
        "recall",
        description="trafilatura's trade-off; on benchmarks/extraction.py recall mode recovers 99.8% of the "
        "posting words (precision mode 83.7%) for 2 points more boilerplate.",
    )
    include_tables: bool = True


class Extracted(BaseModel):
    """What one page yielded."""

    text: str
    text_source: str  # "jsonld" | "trafilatura"
    title: str | None = None
    organisation: str | None = None
    date_posted: str | None = None
    skills: list[str] = Field(default_factory=list)
    has_jsonld: bool = False
    language: str | None = None


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment (a JSON-LD description), keeping paragraph breaks."""
    s = _BLOCK_TAGS.sub("\n", fragment)
    s = _TAG.sub(" ", s)
    s = html_lib.unescape(s)
    s = _SPACES.sub(" ", s)
    s = "\n".join(line.strip() for line in s.split("\n"))
    return _NEWLINES.sub("\n", s).strip()


def _types(node: dict[str, Any]) -> set[str]:
    t = node.get("@type", [])
    return {str(x).split("/")[-1] for x in (t if isinstance(t, list) else [t])}


def _walk(node: Any):
    """Every dict in a JSON-LD tree (handles @graph, lists and nesting)."""
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def _name(v: Any) -> str | None:
    if isinstance(v, dict):
        v = v.get("name") or v.get("legalName")
    if isinstance(v, list):
        v = next((_name(x) for x in v if _name(x)), None)
    return str(v).strip() if v else None


def _skills(v: Any) -> list[str]:
    """``skills`` may be a string (comma/semicolon/newline separated), a list, or DefinedTerms."""
    if v is None:
        return []
    items = v if isinstance(v, list) else [v]
    out: list[str] = []
    for it in items:
        if isinstance(it, dict):
            it = it.get("name") or it.get("termCode") or ""
        for part in re.split(r"[,;\n]|\s•\s", html_to_text(str(it))):
            part = part.strip(" .-•\t")
            if part:
                out.append(part)
    return list(dict.fromkeys(out))


def jobposting_jsonld(html: str, url: str | None = None) -> dict[str, Any] | None:
    """The first schema.org ``JobPosting`` in the page's JSON-LD, as extruct parsed it."""
    import extruct

    try:
        data = extruct.extract(html, base_url=url, syntaxes=["json-ld"], errors="ignore", uniform=False)
    except Exception:  # extruct raises various lxml/json errors on broken pages
        return None
    for node in _walk(data.get("json-ld", [])):
        if "JobPosting" in _types(node):
            return node
    return None


def guess_language(text: str) -> str | None:
    """The language whose common words make up the largest share (at least 12%) of the words.

    Good enough to route pages in another language or non-prose (code, tables of numbers)
    to quarantine without a language-id model: returns ``"en"``, ``"de"``, ``"fr"``, ``"es"``,
    ``"nl"`` or ``None`` (too short or no language clear enough).
    """
    words = re.findall(r"[^\W\d_]+", text.lower())
    if len(words) < 5:
        return None
    shares = {lang: sum(w in sw for w in words) / len(words) for lang, sw in _STOPWORDS.items()}
    best = max(shares, key=shares.get)
    return best if shares[best] >= 0.12 else None


def main_text(html: str, url: str | None = None, cfg: ExtractConfig | None = None) -> str | None:
    """The page's main text by trafilatura (no comments, tables kept)."""
    import trafilatura

    cfg = cfg or ExtractConfig()
    return trafilatura.extract(
        html,
        url=url,
        include_comments=False,
        include_tables=cfg.include_tables,
        favor_precision=cfg.favor == "precision",
        favor_recall=cfg.favor == "recall",
        deduplicate=False,
        output_format="txt",
    )


def extract_posting(html: str, url: str | None = None, cfg: ExtractConfig | None = None) -> Extracted | None:
    """Posting text and JSON-LD fields of one page; ``None`` when the page holds no posting text."""
    cfg = cfg or ExtractConfig()
    ld = jobposting_jsonld(html, url)
    fields: dict[str, Any] = {}
    desc = ""
    if ld:
        desc = html_to_text(str(ld.get("description") or ""))
        fields = {
            "title": _name(ld.get("title")) or _name(ld.get("name")),
            "organisation": _name(ld.get("hiringOrganization")),
            "date_posted": _name(ld.get("datePosted")),
            "skills": _skills(ld.get("skills")),
        }
    if ld and cfg.prefer_jsonld and len(desc) >= cfg.min_jsonld_chars:
        text, source = desc, "jsonld"
    else:
        text, source = (main_text(html, url, cfg) or "").strip(), "trafilatura"
        if len(text) < cfg.min_text_chars and len(desc) >= cfg.min_text_chars:
            text, source = desc, "jsonld"
    if len(text) < cfg.min_text_chars:
        return None
    return Extracted(text=text, text_source=source, has_jsonld=ld is not None, language=guess_language(text), **fields)
