"""The ESCO linker on a small hand-made taxonomy with a tiny random BERT: what the lexical and
dense parts decide, abstention, persistence, the threshold rule, groups that follow the link."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from common.linking.evaluate import choose_threshold, link_metrics
from common.linking.linker import ESCOLinker, FusionWeights, LinkerConfig, build_linker
from common.linking.taxonomy import plain_name, synonym_run, taxonomy_frame

SKILLS = [
    ("u:py", "Python (computer programming)", ["Python", "Python 3K"], ["06"], ["061"]),
    ("u:java", "Java (computer programming)", ["Java"], ["06"], ["061"]),
    ("u:sql", "SQL", ["Structured Query Language"], ["06"], ["061"]),
    ("u:comm", "communication", ["communicating"], ["S1"], ["S1.1"]),
    ("u:cook", "cook meals", ["prepare meals"], ["S5"], []),
    ("u:heldout", "grill meat", [], [], []),  # a held-out skill: no known groups
]


@pytest.fixture(scope="module")
def taxonomy():
    return taxonomy_frame([{"uri": u, "label": lab, "alt_labels": alts, "groups_l1": g1, "groups_l2": g2}
                           for u, lab, alts, g1, g2 in SKILLS])


@pytest.fixture(scope="module")
def annotations(make_annotations):
    return make_annotations([
        ("We write Python daily.", "Python,", "", "Python (computer programming)"),
        ("Java and SQL.", "Java and SQL", "SQL", "SQL"),
        ("You communicate well.", "communication skills", "", "communication"),
        ("Kubernetes is a plus.", "kubernetes", "", "LABEL NOT PRESENT"),
        ("Be nice.", "nice", "", "UNDERSPECIFIED"),
    ])


@pytest.fixture(scope="module")
def linker(tiny_bert_dir, taxonomy, annotations, tmp_path_factory):
    out = tmp_path_factory.mktemp("linker") / "model"
    return build_linker(LinkerConfig(encoder=str(tiny_bert_dir), threads=1, retriever=None), taxonomy, out_dir=out,
                        validation=annotations, progress=False, use_cache=False), out


def test_synonym_run_and_plain_names():
    text = "manage musical staff manage staff of music direct musical staff Assign and manage staff tasks."
    assert synonym_run("manage musical staff", text) == "manage staff of music direct musical staff"
    assert plain_name("Java (computer programming)") == "Java"
    assert plain_name("SQL") == "SQL"


def test_short_strings_are_contiguous_per_skill(taxonomy):
    strings, owner = taxonomy.short_strings()
    assert owner == sorted(owner) and set(owner) == set(range(len(SKILLS)))
    assert "Python 3K" in strings and strings[owner.index(0)] == "Python (computer programming)"
    pairs = taxonomy.adaptation_pairs()
    assert ("Python", "Python (computer programming)") in pairs and ("Java", "Java (computer programming)") in pairs


def test_annotation_queries_use_the_sub_span_and_drop_end_punctuation(annotations):
    df = annotations["val"]
    assert df["query"].tolist()[:2] == ["Python", "SQL"]


def test_exact_names_link_and_punctuation_does_not_matter(linker):
    lk, _ = linker
    for phrase, uri in [("Python", "u:py"), ("python,", "u:py"), ("Java", "u:java"), ("SQL", "u:sql"),
                        ("Structured Query Language", "u:sql")]:
        (r,) = lk.link([phrase], top_k=3)
        assert r.matches[0].uri == uri, (phrase, r.matches)
        assert [m.score for m in r.matches] == sorted((m.score for m in r.matches), reverse=True)


def test_weak_matches_are_left_unlinked(linker):
    lk, _ = linker
    (strong, weak) = lk.link(["SQL", "zzqx wvvy"], top_k=2)
    assert strong.linked is not None and strong.linked.uri == "u:sql"
    assert weak.linked is None and weak.matches  # candidates are still shown
    (forced,) = lk.link(["zzqx wvvy"], threshold=0.0)
    assert forced.linked is not None


def test_contexts_must_match_the_spans(linker):
    lk, _ = linker
    with pytest.raises(ValueError, match="one sentence per span"):
        lk.link(["SQL", "Java"], ["one sentence"])
    assert len(lk.link(["SQL", "Java"], ["we use sql", None])) == 2


def test_save_load_gives_the_same_scores(linker):
    lk, out = linker
    again = ESCOLinker.load(out)
    assert again.threshold == lk.threshold and again.labels == lk.labels
    np.testing.assert_allclose(again.scores(["java", "meals"]), lk.scores(["java", "meals"]), atol=2e-3)
    assert again.groups_of("u:py", 2) == ["061"] and again.groups_of("u:heldout", 2) == []


def test_metrics_and_threshold_rule(linker, annotations):
    lk, _ = linker
    m = lk.metrics["val"]
    assert m["linkable"] == 3 and m["not_present"] == 1
    assert 0 <= m["r_at_1"] <= m["r_at_5"] <= 1 and lk.metrics["r_at_1"] == m["r_at_1"]
    # the rule: the lowest threshold that leaves the share of not-present spans unlinked
    thr = choose_threshold(lk, annotations, leave_unlinked=1.0)
    S = lk.scores(annotations["val"]["query"].tolist(), annotations["val"]["sentence"].tolist())
    assert S[3].max() < thr
    assert choose_threshold(lk, annotations, leave_unlinked=0.0) == 0.0


def test_link_metrics_on_a_known_matrix():
    df = pd.DataFrame({"label": ["a", "b", "LABEL NOT PRESENT", "UNDERSPECIFIED"]})
    S = np.array([[0.9, 0.1], [0.8, 0.7], [0.3, 0.2], [0.95, 0.1]])
    m = link_metrics(S, df, np.array([0, 1, -1, -1]), threshold=0.5)
    assert m["r_at_1"] == 0.5 and m["r_at_5"] == 1.0 and m["mrr_at_10"] == 0.75
    assert m["linked_correct"] == 0.5 and m["unlinked_not_present"] == 1.0 and m["unlinked_underspecified"] == 0.0


def test_lexical_weight_moves_the_ranking(linker):
    """Directional: with only the lexical part, a misspelt exact name wins; the fused score is a weighted mean."""
    lk, _ = linker
    parts = lk.components(["Pyhton"])
    lex = lk.fuse(parts, FusionWeights(dense=0, text=0, lexical=1, context=0))
    assert lk.uris[int(lex.argmax())] == "u:py"
    both = lk.fuse(parts, FusionWeights(dense=1, text=0, lexical=1, context=0, brevity=0))
    np.testing.assert_allclose(both, (parts["dense"] + parts["lexical"]) / 2, atol=1e-6)


def test_brevity_prior_prefers_the_general_skill(linker):
    """Directional: between skills that score alike, the shorter label wins by brevity x words / 8;
    with the prior off they tie."""
    lk, _ = linker
    parts = {k: np.full((1, len(lk.uris)), 0.6, dtype=np.float32) for k in ("dense", "text", "lexical")}
    flat = lk.fuse(parts, FusionWeights(brevity=0))
    assert np.ptp(flat) < 1e-6
    S = lk.fuse(parts, FusionWeights(brevity=0.08))[0]
    row = {lab: S[i] for i, lab in enumerate(lk.labels)}
    assert row["SQL"] > row["cook meals"] > row["Python (computer programming)"]
    assert row["SQL"] - row["Python (computer programming)"] == pytest.approx(0.08 * 2 / 8, abs=1e-6)


def test_a_linker_built_before_the_prior_loads_without_it(linker, tmp_path):
    """Its threshold was tuned without the prior, so the prior stays off for it."""
    import json
    import shutil

    _, folder = linker
    old = tmp_path / "old"
    shutil.copytree(folder, old)
    meta = json.loads((old / "linker.json").read_text())
    del meta["config"]["weights"]["brevity"]
    (old / "linker.json").write_text(json.dumps(meta))
    assert ESCOLinker.load(old).cfg.weights.brevity == 0.0
    assert ESCOLinker.load(folder).cfg.weights.brevity == FusionWeights().brevity


def test_groups_follow_the_link(linker, tiny_bert_dir):
    from common.linking.groups import linked_groups

    lk, _ = linker

    class Classifier:  # the real GroupModel's decide/levels contract, answering "S5" for everything
        from common.groups.model import GroupDecision, GroupScore

        levels = {2: type("St", (), {"codes": ["061", "S1.1", "S5.1"], "labels": ["ICT", "talking", "cooking"]})()}

        def decide(self, skills, level=2, top_k=5):
            g = self.GroupScore(code="S5.1", label="cooking", level=2, score=0.7)
            return [self.GroupDecision(groups=[g], ranked=[g], threshold=0.5) for _ in skills]

    out = linked_groups(["python", "grill meat", "zzqx wvvy"], lk, Classifier(), level=2, top_k=3)
    assert out[0].source == "taxonomy" and [g.code for g in out[0].decision.groups] == ["061"]
    assert out[0].esco is not None and out[0].esco.uri == "u:py"
    assert out[0].decision.ranked[0].code == "061" and "S5.1" in [g.code for g in out[0].decision.ranked]
    assert out[1].source == "classifier"  # linked to a held-out skill: its groups are unknown
    assert out[2].source == "classifier" and out[2].esco is None


# ---- a posting's ESCO skills: span links and sentence-level retrieval (common.linking.skills) ------

def _kw(text: str, phrase: str, type_: str = "Skill", last: bool = False):
    from common.core.types import Keyword

    start = text.rindex(phrase) if last else text.index(phrase)
    return Keyword(start=start, end=start + len(phrase), text=phrase, type=type_, score=0.9)


def test_keywords_go_to_the_sentence_that_holds_them():
    from common.linking.skills import assign_keywords
    from common.text.sentences import split_sentences

    text = "We write Python daily.\nYou know SQL; you cook meals."
    sents = split_sentences(text)
    kws = [_kw(text, "Python"), _kw(text, "SQL"), _kw(text, "cook meals")]
    assert [[k.text for k in ks] for ks in assign_keywords(sents, kws)] == [["Python"], ["SQL"], ["cook meals"]]


def test_posting_skills_name_linked_keywords_with_their_spans(linker):
    """A keyword the linker links gives a named skill whose evidence points into the posting; with
    the implied threshold out of reach nothing else is reported."""
    from common.linking.skills import SkillRankConfig, posting_skills

    lk, _ = linker
    text = "We write Python daily.\nPython and SQL are a must."
    kws = [_kw(text, "Python"), _kw(text, "Python", last=True), _kw(text, "SQL")]
    cfg = SkillRankConfig(implied_threshold=1.0)
    skills = posting_skills(lk, text, kws, cfg)
    by_uri = {s.uri: s for s in skills}
    assert set(by_uri) == {"u:py", "u:sql"} and not any(s.implied for s in skills)
    py = by_uri["u:py"]
    assert len(py.evidence) == 2 and all(text[e.start:e.end] == e.text == "Python" for e in py.evidence)
    assert [s.score for s in skills] == sorted((s.score for s in skills), reverse=True)


def test_implied_skills_come_with_their_sentence(linker):
    """A sentence without keywords still yields skills once their sentence evidence clears the
    threshold; they are marked implied, with the sentence as evidence, and capped per sentence."""
    from common.linking.skills import SkillRankConfig, posting_skills

    lk, _ = linker
    text = "Team lunch every Friday.\nWe write Python daily."
    cfg = SkillRankConfig(implied_threshold=0.0, per_sentence=2, top_k=50)
    skills = posting_skills(lk, text, [_kw(text, "Python")], cfg)
    implied = [s for s in skills if s.implied]
    assert implied and all(len(s.evidence) == 1 and s.evidence[0].kind == "sentence" for s in implied)
    first = [s for s in implied if s.evidence[0].text == "Team lunch every Friday."]
    assert 1 <= len(first) <= 2  # per_sentence
    assert any(s.uri == "u:py" and not s.implied for s in skills)  # named wins over implied
    assert posting_skills(lk, "   ", [], cfg) == []
    assert len(posting_skills(lk, text, [_kw(text, "Python")], cfg.model_copy(update={"top_k": 1}))) == 1


def test_rp_at_k_and_sentence_gold():
    from common.linking.evaluate import rp_at_k, sentence_gold

    S = np.array([[0.9, 0.8, 0.1, 0.0], [0.1, 0.2, 0.3, 0.9]])
    # sentence 0: gold {0, 2} -> top-1 hits 0 -> 1/1; sentence 1: gold {1} plus one label ESCO lacks
    assert rp_at_k(S, [{0, 2}, {1}], [2, 2], 1) == pytest.approx((1 + 0) / 2)
    assert rp_at_k(S, [{0, 2}, {1}], [2, 2], 3) == pytest.approx((2 / 2 + 1 / 2) / 2)

    class L:
        labels = ["SQL", "Java"]

    df = pd.DataFrame({"sentence": ["a", "a", "b", "c"], "label": ["SQL", "LABEL NOT PRESENT", "UNDERSPECIFIED", "old v1.1 name"]})
    g = sentence_gold(L(), df).set_index("sentence")
    assert g.loc["a", "gold"] == {0} and g.loc["a", "n_gold"] == 1
    assert g.loc["b", "n_gold"] == 0  # nothing ESCO has: it should imply nothing
    assert g.loc["c", "gold"] == set() and g.loc["c", "n_gold"] == 1  # a label the taxonomy lacks counts as a miss


def test_spans_and_sentences_use_the_configured_backend(tiny_bert_dir, taxonomy, annotations, tmp_path):
    """The index is embedded by the ONNX export, and spans and sentences go through the backend the
    config names (fp32 ONNX by default), also after a save and load: a folder that serves ONNX
    carries its export, one that serves torch keeps no ONNX copy; both give the same scores."""
    cfg = LinkerConfig(encoder=str(tiny_bert_dir), threads=1, retriever=None)
    lk = build_linker(cfg, taxonomy, out_dir=tmp_path / "o", validation=annotations, progress=False, use_cache=False)
    assert lk.onnx_dir is not None and lk.encoder().backend == "onnx"
    assert (tmp_path / "o" / "encoder.onnx").exists() and not (tmp_path / "o" / "encoder-int8.onnx").exists()
    assert ESCOLinker.load(tmp_path / "o").encoder().backend == "onnx"
    torch_lk = build_linker(cfg.model_copy(update={"backend": "torch"}), taxonomy, out_dir=tmp_path / "t",
                            validation=annotations, progress=False, use_cache=False)
    assert torch_lk.encoder().backend == "torch" and not (tmp_path / "t" / "encoder.onnx").exists()
    loaded = ESCOLinker.load(tmp_path / "t")
    assert loaded.encoder().backend == "torch"
    np.testing.assert_allclose(loaded.scores(["python"]), lk.scores(["python"]), atol=1e-4)


def test_posting_skills_are_the_same_in_chunks(linker):
    """Ranking a long posting a few sentences at a time (bounded memory) changes nothing."""
    from common.linking.skills import SkillRankConfig, posting_skills

    lk, _ = linker
    lines = ["We write Python daily.", "SQL is a must.", "Team lunch every Friday.", "You cook meals for the team."] * 5
    text = "\n".join(lines)
    from common.core.types import Keyword

    kws = [Keyword(start=m.start(), end=m.end(), text=m.group(), type="Skill")
           for m in re.finditer(r"Python|SQL|cook meals", text)]
    cfg = SkillRankConfig(implied_threshold=0.0, top_k=50)
    whole = posting_skills(lk, text, kws, cfg, chunk=1000)
    assert whole and [s.model_dump() for s in posting_skills(lk, text, kws, cfg, chunk=3)] == [s.model_dump() for s in whole]


def test_one_pass_gives_each_keyword_the_link_of_link(linker):
    """link_posting scores each phrase once for both answers: every keyword's link is what
    ``ESCOLinker.link`` gives that phrase alone (case and spacing ignored, as /extract does), and
    its skills are posting_skills'."""
    from common.core.types import Keyword
    from common.linking.skills import link_posting, posting_skills

    lk, _ = linker
    text = "We write Python daily.\nSQL  and python are a must.\nTeam lunch every Friday."
    kws = [Keyword(start=m.start(), end=m.end(), text=m.group(), type="Skill")
           for m in re.finditer(r"Python|SQL  and|python|lunch", text)]
    one = link_posting(lk, text, kws, chunk=1)
    assert len(one.links) == len(kws)
    expected = [lk.link([" ".join(k.text.split())], top_k=1)[0].linked for k in kws]
    assert one.links == expected
    assert one.links[0] is not None and one.links[0].uri == "u:py" and one.links[0] == one.links[2]  # Python ~ python
    assert [s.model_dump() for s in one.skills] == [s.model_dump() for s in posting_skills(lk, text, kws)]


def test_served_rp_at_5_scores_the_skills_a_one_sentence_posting_gets(linker):
    """RP@5 of what ``link_posting`` serves: a sentence whose named keyword links to its gold skill
    scores 1, one whose gold ESCO lacks scores 0, and a sentence without gold is not scored."""
    from common.linking.evaluate import sentence_gold, served_rp_at_k

    lk, _ = linker
    df = pd.DataFrame({"sentence": ["We write Python daily.", "Kubernetes is a plus.", "Be nice."],
                       "label": ["Python (computer programming)", "container orchestration", "UNDERSPECIFIED"]})

    def keywords_of(texts):
        return [[_kw(t, w)] for t, w in zip(texts, ["Python", "Kubernetes"], strict=False)]

    sents = sentence_gold(lk, df)
    vals = served_rp_at_k(lk, keywords_of, sents)
    assert vals.tolist() == [1.0, 0.0]


def test_the_three_sites_load_as_sentence_label_rows(shared_data):
    from common.linking.evaluate import load_sites

    sites = load_sites(shared_data / "decorte")
    if "techwolf" not in sites:
        pytest.skip("decorte/techwolf_annotations.csv not found")
    assert set(sites) == {"tech", "house", "techwolf"}
    assert all(list(df.columns) == ["sentence", "label"] for df in sites.values())
    assert sites["techwolf"]["sentence"].nunique() == 326 and len(sites["techwolf"]) == 588
