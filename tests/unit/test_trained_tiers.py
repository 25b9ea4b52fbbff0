"""Behaviour of the trained keyword tiers on this machine (slow; skipped where a tier is not trained).

Minimum functionality: the README's example yields both ``Python`` and ``SQL``. Invariance: the
company a posting names does not change its other keywords. Each tier is looked up the way the
CLI does (its champion, else its latest trained model under ``<data_dir>/models``).
"""

from __future__ import annotations

import pytest

README_EXAMPLE = "We need a Python developer with SQL"
COMPANIES = ("Acme Corp", "Globex", "Initech Solutions", "Northwind Traders")
POSTING = ("{company} is hiring a data engineer. You will build data pipelines in Python and SQL, "
           "deploy them with Docker on AWS and work closely with our analysts. {company} offers a "
           "friendly team and flexible hours.")


def _tagger(tier: str):  # noqa: ANN202 - a KeywordTagger
    from common.keywords.tagger import KeywordTagger, default_model_dir

    try:
        return KeywordTagger.load(default_model_dir(tier))
    except FileNotFoundError as exc:
        pytest.skip(f"no trained {tier} tier here: {exc}")


def _is_real(tagger) -> None:  # noqa: ANN001
    score = (tagger.meta.get("metrics") or {}).get("span_f1")
    if score is None or score < 0.3:
        pytest.skip(f"the {tagger.tier} tier here is not a full training run (dev span-F1 {score})")


@pytest.mark.slow
@pytest.mark.parametrize("tier", ["accurate", "fast"])
def test_the_readme_example_yields_python_and_sql(tier):
    tagger = _tagger(tier)
    _is_real(tagger)
    found = {k.text for k in tagger.extract([README_EXAMPLE])[0]}
    assert {"Python", "SQL"} <= found, found


@pytest.mark.slow
@pytest.mark.parametrize("tier", ["accurate", "fast"])
def test_a_company_name_swapped_leaves_the_keywords(tier):
    tagger = _tagger(tier)
    _is_real(tagger)
    texts = [POSTING.format(company=c) for c in COMPANIES]
    results = tagger.extract(texts)
    keyword_sets = [sorted((k.text, k.type) for k in kws if not any(part in k.text for c in COMPANIES
                                                                   for part in c.split()))
                    for kws in results]
    assert keyword_sets[0] and all(ks == keyword_sets[0] for ks in keyword_sets), keyword_sets
