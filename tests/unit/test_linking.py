"""The ESCO linker on a small hand-made taxonomy with a tiny random BERT: what the lexical and
dense parts decide, abstention, persistence, the threshold rule, groups that follow the link."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from common.linking.evaluate import choose_threshold, link_metrics, load_annotations
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
def annotations(tmp_path_factory):
    path = tmp_path_factory.mktemp("ann") / "val.csv"
    pd.DataFrame([
        {"sentence": "We write Python daily.", "span": "Python,", "sub_span": "", "label": "Python (computer programming)"},
        {"sentence": "Java and SQL.", "span": "Java and SQL", "sub_span": "SQL", "label": "SQL"},
        {"sentence": "You communicate well.", "span": "communication skills", "sub_span": "", "label": "communication"},
        {"sentence": "Kubernetes is a plus.", "span": "kubernetes", "sub_span": "", "label": "LABEL NOT PRESENT"},
        {"sentence": "Be nice.", "span": "nice", "sub_span": "", "label": "UNDERSPECIFIED"},
    ]).to_csv(path, index=False)
    return {"val": load_annotations(path)}


@pytest.fixture(scope="module")
def linker(tiny_bert_dir, taxonomy, annotations, tmp_path_factory):
    out = tmp_path_factory.mktemp("linker") / "model"
    return build_linker(LinkerConfig(encoder=str(tiny_bert_dir), threads=1), taxonomy, out_dir=out,
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
    both = lk.fuse(parts, FusionWeights(dense=1, text=0, lexical=1, context=0))
    np.testing.assert_allclose(both, (parts["dense"] + parts["lexical"]) / 2, atol=1e-6)


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
