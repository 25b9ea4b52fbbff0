"""Train a tiny tagger, a tiny skill-group model, a tiny ESCO linker and a tiny occupation model and promote them with
``common.registry``.

Run by the ``tiny_models`` fixture in a subprocess whose environment points ``BENTOML_HOME``
and ``JOBSKILLS_DATA_DIR`` at temporary folders:
``python build_tiny_models.py <tiny_bert_dir> <work_dir> <out.json> [models|topics]``. Writes the champion tags
and folders to ``out.json``. Uses only the other areas' public APIs, on synthetic data built
from the tiny BERT's vocabulary, so it runs without the real data set.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the shared synthetic corpus
from tiny_corpus import synthetic_postings


def build_tagger(encoder: Path, work: Path) -> dict:
    from common import registry
    from common.keywords.config import TaggerConfig
    from common.keywords.evaluate import evaluate_keywords
    from common.keywords.tagger import KeywordTagger
    from common.keywords.training import train_tagger
    from common.text.spans import posting_text

    train, dev = synthetic_postings(16, seed=0), synthetic_postings(4, seed=1)
    cfg = TaggerConfig(encoder=str(encoder), max_length=32, stride=8, batch_size=8, lr=2e-3, head_lr=2e-2,
                       dropout=0.0, seed=3, epochs=100, max_steps=40, eval_each_epoch=False, threads=1)

    def train_and_register(steps: int, out: str) -> tuple[str, float]:
        res = train_tagger(cfg.model_copy(update={"max_steps": steps}), train, None, work / out, progress=False)
        tagger = KeywordTagger.load(res.model_dir, device="cpu")
        report = evaluate_keywords(dev, tagger.extract([posting_text(p) for p in dev]))
        decision = registry.register_and_gate("keyword-tagger", res.model_dir, report, "span.overall.f1",
                                              metadata={"params": {"tiny": True, "max_steps": steps}})
        assert decision.promoted, decision.reason
        return str(decision.tag), float(report["span"]["overall"]["f1"])

    # a 1-step tagger is champion first: the previous champion a rollback returns to, far below
    # the quality floor (tests/services/test_serving_api.py checks the service flags it)
    weak_tag, weak_f1 = train_and_register(1, "tagger-weak")
    assert weak_f1 < 0.4, f"the 1-step tagger scores {weak_f1}: not weak enough to test the floor"
    tag, f1 = train_and_register(40, "tagger")
    return {"tag": tag, "path": str(registry.champion_path("keyword-tagger")), "f1": f1,
            "weak_tag": weak_tag, "weak_f1": weak_f1}


def build_accurate_tagger(encoder: Path, work: Path) -> dict:
    """A second tiny tagger trained as the accurate tier (another seed) and promoted under the
    accurate tier's registry name: the service tests of the tier switch serve both."""
    from common import registry
    from common.keywords.config import TaggerConfig
    from common.keywords.evaluate import evaluate_keywords
    from common.keywords.tagger import KeywordTagger
    from common.keywords.tiers import tier_model_name
    from common.keywords.training import train_tagger
    from common.text.spans import posting_text

    train, dev = synthetic_postings(16, seed=0), synthetic_postings(4, seed=1)
    cfg = TaggerConfig(encoder=str(encoder), max_length=32, stride=8, batch_size=8, lr=2e-3, head_lr=2e-2,
                       dropout=0.0, seed=7, epochs=100, max_steps=40, eval_each_epoch=False, threads=1,
                       tier="accurate")
    res = train_tagger(cfg, train, None, work / "tagger-accurate", progress=False)
    tagger = KeywordTagger.load(res.model_dir, device="cpu")
    report = evaluate_keywords(dev, tagger.extract([posting_text(p) for p in dev]))
    name = tier_model_name("accurate")
    decision = registry.register_and_gate(name, res.model_dir, report, "span.overall.f1",
                                          metadata={"params": {"tiny": True}})
    assert decision.promoted, decision.reason
    return {"tag": str(decision.tag), "path": str(registry.champion_path(name)), "tier": tagger.tier}


GROUPS = [
    {"code": "T", "label": "technology", "level": 1, "parent_code": ""},
    {"code": "P", "label": "people", "level": 1, "parent_code": ""},
    {"code": "T.1", "label": "software development", "level": 2, "parent_code": "T"},
    {"code": "T.2", "label": "data management", "level": 2, "parent_code": "T"},
    {"code": "P.1", "label": "communication", "level": 2, "parent_code": "P"},
    {"code": "P.2", "label": "project management", "level": 2, "parent_code": "P"},
]
SKILLS = {
    "T.1": ["python", "java", "write python code", "write java code", "software design", "software testing",
            "cloud software", "design software", "test software", "python developer"],
    "T.2": ["sql", "data", "sql data", "manage sql data", "data design", "cloud data", "data management",
            "query sql", "data engineer", "data knowledge"],
    "P.1": ["communication", "strong communication", "team communication", "communication skills",
            "work with our team", "communication with you", "we communication", "team skills", "our team",
            "communication knowledge"],
    "P.2": ["project management", "management", "project", "manage project", "project team",
            "management skills", "project design management", "management of project", "work management",
            "project management knowledge"],
}


def build_groups(encoder: Path, work: Path) -> dict:
    import pandas as pd
    import yaml

    from common import registry
    from common.data.esco import skills_frame
    from common.groups.config import GroupConfig
    from common.groups.model import GroupModel
    from common.groups.training import train_groups

    rows = [{"label": s, "groups_l2": [code], "groups_l1": [code.split(".")[0]]}
            for code, labels in SKILLS.items() for s in labels]
    df = skills_frame(rows)
    dev = df.iloc[::5].reset_index(drop=True)
    train = df.drop(df.index[::5]).reset_index(drop=True)
    tiny = yaml.safe_load((Path(__file__).resolve().parents[2] / "configs" / "groups-tiny.yaml").read_text())
    cfg = GroupConfig.model_validate({**tiny, "encoder": str(encoder)})
    res = train_groups(cfg, train, dev, pd.DataFrame(GROUPS), out_dir=work / "groups", progress=False,
                       embed_cache=False)
    GroupModel.load(res.model_dir).predict(["python"], level=2, top_k=2)  # loads and predicts
    decision = registry.register_and_gate("skill-groups", res.model_dir, res.metrics, "l2.micro_f1",
                                          metadata={"params": {"tiny": True}})
    assert decision.promoted, decision.reason
    return {"tag": decision.tag, "path": str(registry.champion_path("skill-groups"))}


def tiny_taxonomy():  # noqa: ANN201 - common.linking.Taxonomy
    """The group skills as a taxonomy with URIs and known groups; ``python`` has an alternative label."""
    from common.linking.taxonomy import taxonomy_frame

    rows = [{"uri": f"http://data.europa.eu/esco/skill/tiny-{i}", "label": s, "groups_l2": [code],
             "groups_l1": [code.split(".")[0]], "alt_labels": ["python programming"] if s == "python" else []}
            for i, (code, s) in enumerate((c, s) for c, labels in SKILLS.items() for s in labels)]
    return taxonomy_frame(rows)


def tiny_retriever(linker, folder: Path):  # noqa: ANN001, ANN201 - common.linking.retriever.Retriever
    """A sentence retriever trained a few steps on hand-made (sentence, label) pairs, so that the served
    sentence evidence differs from the linker's own encoder (SkillSpan's distant pairs need the real data)."""
    from common.linking.linker import embed_retriever
    from common.text.mirror_bert import MirrorConfig, train_mirror_bert

    pairs = [("we use python daily", "python"), ("sql is a must", "sql"), ("you will write sql", "sql"),
             ("good communication skills", "communication skills")]
    res = train_mirror_bert(MirrorConfig(encoder=linker.encoder_path, max_steps=3, batch_size=2, lr=1e-3, span_mask=0,
                                         threads=1), [], folder, progress=False, pairs=pairs)
    return embed_retriever(linker, res.model_dir, {"pairs": len(pairs), "steps": res.steps}, progress=False,
                           use_cache=False)


def build_linker(encoder: Path, work: Path) -> dict:
    """A linker over the tiny taxonomy, its threshold picked on tiny annotations, promoted."""
    import pandas as pd

    from common import registry
    from common.linking.evaluate import load_annotations
    from common.linking.linker import ESCOLinker, LinkerConfig
    from common.linking.linker import build_linker as build

    annotations = work / "tiny_annotations.csv"
    pd.DataFrame([
        {"sentence": "we use python daily", "span": "python", "sub_span": "", "label": "python"},
        {"sentence": "sql is a must", "span": "sql", "sub_span": "", "label": "sql"},
        {"sentence": "good communication skills", "span": "communication skills", "sub_span": "",
         "label": "communication skills"},
        {"sentence": "knowledge of kubernetes", "span": "kubernetes", "sub_span": "", "label": "LABEL NOT PRESENT"},
        {"sentence": "zxq qqz wanted", "span": "zxq qqz", "sub_span": "", "label": "LABEL NOT PRESENT"},
    ]).to_csv(annotations, index=False)
    cfg = LinkerConfig(encoder=str(encoder), threads=1, retriever=None)
    linker = build(cfg, tiny_taxonomy(), out_dir=work / "linker", validation={"tiny": load_annotations(annotations)},
                   progress=False, use_cache=False)
    linker.retriever = tiny_retriever(linker, work / "linker" / "retriever")  # sentences served in its own space
    linker.save(work / "linker")
    ESCOLinker.load(work / "linker").link(["python"], top_k=2)
    decision = registry.register_and_gate("esco-linker", work / "linker", linker.metrics, "r_at_1",
                                          metadata={"params": {"tiny": True}})
    assert decision.promoted, decision.reason
    return {"tag": decision.tag, "path": str(registry.champion_path("esco-linker")), "threshold": linker.threshold}


TINY_OCCUPATIONS = {  # label: (split, essential skills, optional skills); every skill is a tiny taxonomy label
    "software developer": ("train", SKILLS["T.1"][:5], SKILLS["T.2"][:2]),
    "data engineer": ("train", SKILLS["T.2"][:5], SKILLS["T.1"][:2]),
    "communication officer": ("train", SKILLS["P.1"][:5], SKILLS["P.2"][:2]),
    "project manager": ("train", SKILLS["P.2"][:5], SKILLS["P.1"][:3]),
    "software tester": ("train", SKILLS["T.1"][4:9], SKILLS["P.2"][:2]),
    "data analyst": ("train", SKILLS["T.2"][3:8], SKILLS["P.1"][:2]),
    "python programmer": ("dev", SKILLS["T.1"][:3] + SKILLS["T.2"][:1], SKILLS["T.1"][6:8]),
    "team leader": ("test", SKILLS["P.1"][3:7], SKILLS["P.2"][2:5]),
}


def tiny_occupations():  # noqa: ANN201 - common.occupations.OccupationTaxonomy
    from common.occupations.taxonomy import occupations_frame

    uri = {s["label"]: s["uri"] for s in tiny_taxonomy().skills.to_dict("records")}
    rows, rel = [], []
    for i, (label, (split, ess, opt)) in enumerate(TINY_OCCUPATIONS.items()):
        occ = f"http://data.europa.eu/esco/occupation/tiny-{i}"
        rows.append({"uri": occ, "label": label, "isco": f"25{i}", "split": split, "alt_labels": [f"{label} role"],
                     "description": f"A {label} works with " + ", ".join(ess) + "."})
        rel += [{"occupation_uri": occ, "skill_uri": uri[s], "relation_type": r, "skill_type": "skill/competence"}
                for r, names in (("essential", ess), ("optional", opt)) for s in names]
    return occupations_frame(rows, rel)


def build_occupations(encoder: Path, work: Path) -> dict:
    """An occupation model over the tiny taxonomy, promoted."""
    from common import registry
    from common.occupations.config import ImportanceParams, OccupationConfig
    from common.occupations.training import build_occupation_model
    from common.pipeline.kinds import OCCUPATION_METRIC, model_kind

    cfg = OccupationConfig(encoder=str(encoder), threads=1, negatives=5,
                           importance=ImportanceParams(n_estimators=20, neighbours=3))
    build_occupation_model(cfg, tiny_occupations(), tiny_taxonomy(), out_dir=work / "occupations", progress=False)
    metrics = model_kind("occupations").score(work / "occupations", None)
    decision = registry.register_and_gate("esco-occupations", work / "occupations", metrics, OCCUPATION_METRIC,
                                          smoke_check=model_kind("occupations").smoke_check,
                                          metadata={"params": {"tiny": True}})
    assert decision.promoted, decision.reason
    return {"tag": decision.tag, "path": str(registry.champion_path("esco-occupations"))}


def build_topics(encoder: Path, work: Path) -> dict:
    """A topic model folder (not published: the tests install it while the server runs)."""
    from common.topics.config import TopicConfig
    from common.topics.model import fit_topics

    texts = [" ".join(w for s in p.sentences for w in s.tokens) for p in synthetic_postings(24, seed=5)]
    cfg = TopicConfig(encoder=str(encoder), reducer="pca", n_components=3, clusterer="kmeans", n_clusters=3,
                      min_df=1, plot=False)
    _, path = fit_topics(texts, cfg, out_dir=work / "topics", make_latest=False)
    return {"path": str(path)}


def main() -> None:
    encoder, work, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    what = sys.argv[4] if len(sys.argv) > 4 else "models"
    work.mkdir(parents=True, exist_ok=True)
    if what == "topics":
        result = {"topics": build_topics(encoder, work)}
    elif what == "accurate":
        result = {"accurate": build_accurate_tagger(encoder, work)}
    else:
        result = {"keywords": build_tagger(encoder, work), "groups": build_groups(encoder, work),
                  "linker": build_linker(encoder, work), "occupations": build_occupations(encoder, work)}
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
