"""Extraction: JSON-LD JobPosting fields, main-text fallback, and text recovery on SkillSpan pages."""

from __future__ import annotations

import json
import random

import pytest

from common.data.extract import ExtractConfig, extract_posting, guess_language, html_to_text, jobposting_jsonld
from common.testing.testsite import (
    leaked_snippets,
    measure_extraction,
    posting_page,
    recovery_and_leakage,
    skillspan_site_postings,
)

SENTENCES = [
    "We are looking for a backend developer to join our payments team in the city centre.",
    "You will design and build services in Python and Go and run them on Kubernetes.",
    "Experience with PostgreSQL and message queues such as Kafka is required for this role.",
    "Good communication skills and a willingness to mentor junior colleagues are a plus.",
]


def test_jsonld_fields_and_text():
    html = posting_page("Backend developer", SENTENCES, random.Random(1), jsonld=True, organisation="PayCo",
                        skills=["Python", "Go", "Kubernetes"])
    ex = extract_posting(html, "http://example.org/job")
    assert ex is not None and ex.has_jsonld and ex.text_source == "jsonld"
    assert ex.title == "Backend developer" and ex.organisation == "PayCo" and ex.date_posted == "2024-03-01"
    assert ex.skills == ["Python", "Go", "Kubernetes"]
    assert ex.text.split("\n") == SENTENCES
    assert ex.language == "en"


def test_jsonld_graph_list_types_and_defined_terms():
    doc = {"@context": "https://schema.org", "@graph": [
        {"@type": "WebPage", "name": "x"},
        {"@type": ["JobPosting"], "title": "Analyst", "description": "<p>Short</p>",
         "hiringOrganization": "Acme", "skills": [{"@type": "DefinedTerm", "name": "Excel"}, "SQL; R"]},
    ]}
    html = f'<html><head><script type="application/ld+json">{json.dumps(doc)}</script></head><body></body></html>'
    ld = jobposting_jsonld(html)
    assert ld["title"] == "Analyst"
    # description too short and no body text: no posting, rather than a one-word one
    assert extract_posting(html) is None
    ex = extract_posting(html, cfg=ExtractConfig(min_text_chars=3, min_jsonld_chars=3))
    assert ex.text == "Short" and ex.organisation == "Acme" and ex.skills == ["Excel", "SQL", "R"]


@pytest.mark.parametrize("seed", range(6))  # covers the three page layouts
def test_main_text_without_jsonld(seed):
    html = posting_page("Backend developer", SENTENCES, random.Random(seed), jsonld=False)
    ex = extract_posting(html)
    assert ex is not None and ex.text_source == "trafilatura" and not ex.has_jsonld
    rec, leak = recovery_and_leakage("\n".join(SENTENCES), ex.text, allowed="Backend developer")
    assert rec > 0.95
    # chrome does get through on some layouts (table layouts worst); benchmarks/extraction.py quotes how much
    assert leak < 0.6


def test_broken_and_empty_pages():
    assert extract_posting("") is None
    assert extract_posting("<html><body><nav>Home</nav></body></html>") is None
    assert extract_posting('<script type="application/ld+json">{not json</script><p>x</p>') is None


def test_html_to_text_and_language():
    assert html_to_text("<p>a &amp; b</p><ul><li>one</li><li>two</li></ul>") == "a & b\none\ntwo"
    assert guess_language(" ".join(SENTENCES)) == "en"
    assert guess_language("Wir suchen eine Entwicklerin mit Erfahrung in der Softwareentwicklung für unser Team.") == "de"
    assert guess_language("404 500 200 301") is None


def test_recovery_and_leakage_metric():
    assert recovery_and_leakage("a b c d", "a b c d") == (1.0, 0.0)
    rec, leak = recovery_and_leakage("a b c d", "a b x y")
    assert rec == 0.5 and leak == 0.5
    assert recovery_and_leakage("a b", None) == (0.0, 0.0)
    assert leaked_snippets("... Accept all cookies ...") == ["Accept all cookies"]


def test_recovery_on_skillspan_pages(shared_data):
    """Real SkillSpan postings inside cluttered pages served on 127.0.0.1 (see benchmarks/extraction.py)."""
    from common.data.skillspan import load_skillspan

    postings = load_skillspan("dev", shared_data)[:16]
    report = measure_extraction(skillspan_site_postings(postings))
    assert report["fetched"] == report["pages"] == 16
    assert report["pipeline_jsonld_pages"]["recovery"] == pytest.approx(1.0)
    assert report["pipeline_html_only_pages"]["recovery"] >= 0.95
    assert report["pipeline"]["leakage"] <= 0.10
    # recall mode is the better trade-off here: precision mode loses far more posting text
    precise = measure_extraction(skillspan_site_postings(postings), extract_cfg=ExtractConfig(favor="precision"))
    assert precise["pipeline_html_only_pages"]["recovery"] < report["pipeline_html_only_pages"]["recovery"]
