"""The small built-in sample that ``jobskills quickstart`` runs the whole pipeline on.

Twenty short job postings written for this project (``sample/postings.md``, with inline
``[S:...]``/``[K:...]`` marks for Skill and Knowledge spans) and sixty skills with ESCO-style
groups (``SKILLS`` below). ``build_sample`` turns them into the same file forms as the real
data (SkillSpan JSONL, ESCO CSVs), plus an *inbox* that the ingest flow reads: the dev
postings with gold labels, the train postings as plain text, and labels for the train
postings from a simulated crowd of five annotators (``common.testing.crowd_sim``), so that the merge
stage has real work to do. The generated files are shipped in the package; run
``python -m common.testing.sample_build`` to rebuild them after editing the sources.

ESCO group codes and names are those of ESCO v1.2.0 ("This service uses the ESCO
classification of the European Commission"); the skills and their descriptions are ours.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from common.data.sample import SAMPLE_DIR

# (label, description, level-2 groups) -- written for the sample, grouped the ESCO way
SKILLS: list[tuple[str, str, str]] = [
    (
        "design REST APIs",
        "define the endpoints and data formats that programs use to talk to a service",
        "061;S5.6",
    ),
    ("write automated tests", "write code that checks other code works as intended", "061"),
    ("review code", "read colleagues' code changes and suggest improvements", "061;S2.1"),
    ("build data pipelines", "create software that moves and transforms data between systems", "061;S5.5"),
    ("analyse data", "inspect and model data to find useful information", "S5.5;054"),
    ("create dashboards", "build visual overviews of figures for decision makers", "S5.5"),
    (
        "train machine learning models",
        "fit statistical models to data so they can make predictions",
        "061;054",
    ),
    ("deploy software", "install and release software into a production environment", "061"),
    ("troubleshoot hardware", "find and fix faults in computers and devices", "S5.6;061"),
    ("automate deployments", "script the release of software so it runs without manual steps", "061"),
    (
        "investigate security incidents",
        "examine alerts and logs to find out what happened in an attack",
        "S2.1;061",
    ),
    ("document procedures", "write down how tasks are done so others can follow them", "S1.2;T2.1"),
    ("use spreadsheet software", "use spreadsheets to calculate, sort and present numbers", "S5.6"),
    ("build user interfaces", "create screens and controls that people use to operate software", "061"),
    ("tune database queries", "change queries and indexes so that databases answer faster", "061;S5.5"),
    ("maintain database servers", "keep database systems running, patched and backed up", "061"),
    ("monitor system performance", "watch measurements of running systems and react to problems", "061;S2.1"),
    ("supervise staff", "oversee the work of a team and guide its members", "S4.8;T4.4"),
    ("plan work schedules", "decide who works when and on which task", "S4.2"),
    ("assign tasks", "give team members work that matches their abilities", "S4.2;S4.8"),
    ("lead meetings", "run meetings so that decisions are reached on time", "T4.4;S1.2"),
    ("manage projects", "plan, organise and control the work of a project to reach its goals", "S4.2"),
    ("coordinate subcontractors", "align the work of external firms on a site", "S4.2;S1.2"),
    ("monitor budgets", "follow spending against the plan and report differences", "041;S4.2"),
    ("train staff", "teach colleagues the skills their work needs", "T4.4;S1.2"),
    ("negotiate contracts", "agree terms and prices with another party", "S1.1"),
    ("negotiate prices", "bargain about the price of goods or services", "S1.1"),
    ("build customer relationships", "keep long-term contact with customers and earn their trust", "S1.2"),
    ("present products", "show and explain products to potential buyers", "S1.2"),
    ("answer customer questions", "give customers the information they ask for", "S1.2;T4.4"),
    ("resolve complaints", "handle customer complaints and find a fair solution", "S1.1;S1.2"),
    ("communicate with patients", "talk with patients and relatives clearly and with empathy", "S1.2;091"),
    ("provide patient care", "look after the health needs of patients", "091"),
    ("administer medication", "give patients medicines as prescribed", "091"),
    ("monitor vital signs", "measure pulse, temperature and blood pressure", "091;S2.1"),
    (
        "help residents with daily activities",
        "assist elderly people with washing, dressing and eating",
        "091",
    ),
    ("apply first aid", "give immediate help to injured or ill people", "091;102"),
    ("prepare financial statements", "compile the balance sheet and income statement of a company", "041"),
    ("reconcile accounts", "compare records to check that figures agree", "041;S5.5"),
    ("apply tax law", "follow the rules of taxation when preparing accounts", "042;041"),
    ("support audits", "prepare documents and answer questions of auditors", "041;S2.1"),
    ("operate a forklift", "drive a forklift truck to lift and move goods", "S6.1;104"),
    ("check incoming goods", "compare delivered goods with orders and notes", "S6.1"),
    ("manage stock", "keep track of stock levels and reorder in time", "S6.1;S4.2"),
    ("order supplies", "buy the materials a team needs", "S4.2;041"),
    ("plan transport routes", "choose routes that deliver goods cheaply and on time", "104;S4.2"),
    ("schedule deliveries", "decide when goods are delivered to which customer", "104;S4.2"),
    ("prepare dishes", "cook meals according to recipes", "S6.1"),
    ("maintain food hygiene", "keep the kitchen clean and food safe to eat", "102"),
    ("apply building regulations", "make sure construction work follows the legal rules", "073;042"),
    ("read construction drawings", "understand plans and technical drawings of buildings", "073"),
    ("organise meetings", "arrange the time, place and agenda of meetings", "S4.2;S1.2"),
    ("manage calendars", "keep appointments of managers in order", "S4.2"),
    ("handle mail", "sort and distribute incoming letters and parcels", "S6.1;041"),
    ("write reports", "write clear accounts of findings for readers", "S1.2;T2.1"),
    ("solve problems", "find solutions to difficulties at work", "T2.1"),
    ("work in a team", "cooperate with colleagues towards a common goal", "T4.4;S1.2"),
    ("work independently", "organise one's own work without supervision", "T2.1"),
    ("share knowledge", "pass on what one knows to colleagues", "S1.2;T4.4"),
    ("use office software", "use word processors, e-mail and calendars at work", "S5.6"),
]

GROUPS: list[tuple[str, str, int, str]] = [
    ("S", "skills", 0, ""),
    ("K", "knowledge", 0, ""),
    ("T", "transversal skills and competences", 0, ""),
    ("S1", "communication, collaboration and creativity", 1, "S"),
    ("S1.1", "negotiating", 2, "S1"),
    ("S1.2", "liaising and networking", 2, "S1"),
    ("S2", "information skills", 1, "S"),
    ("S2.1", "conducting studies, investigations and examinations", 2, "S2"),
    ("S4", "management skills", 1, "S"),
    ("S4.2", "organising, planning and scheduling work and activities", 2, "S4"),
    ("S4.8", "supervising people", 2, "S4"),
    ("S5", "working with computers", 1, "S"),
    ("S5.5", "accessing and analysing digital data", 2, "S5"),
    ("S5.6", "using digital tools for collaboration, content creation and problem solving", 2, "S5"),
    ("S6", "handling and moving", 1, "S"),
    ("S6.1", "sorting and packaging goods and materials", 2, "S6"),
    ("T2", "thinking skills and competences", 1, "T"),
    ("T2.1", "processing information, ideas and concepts", 2, "T2"),
    ("T4", "social and communication skills and competences", 1, "T"),
    ("T4.4", "leading others", 2, "T4"),
    ("04", "business, administration and law", 1, "K"),
    ("041", "business and administration", 2, "04"),
    ("042", "law", 2, "04"),
    ("05", "natural sciences, mathematics and statistics", 1, "K"),
    ("054", "mathematics and statistics", 2, "05"),
    ("06", "information and communication technologies (icts)", 1, "K"),
    ("061", "information and communication technologies (icts)", 2, "06"),
    ("07", "engineering, manufacturing and construction", 1, "K"),
    ("073", "architecture and construction", 2, "07"),
    ("09", "health and welfare", 1, "K"),
    ("091", "health", 2, "09"),
    ("10", "services", 1, "K"),
    ("102", "hygiene and occupational health services", 2, "10"),
    ("104", "transport services", 2, "10"),
]

_MARK = re.compile(r"\[([SK]):([^\]]+)\]|(\S+)")


def parse_marked_sentence(line: str) -> tuple[list[str], list[str], list[str]]:
    """``"You [S:write tests] in [K:Python] ."`` -> tokens, Skill BIO, Knowledge BIO."""
    tokens: list[str] = []
    skill: list[str] = []
    know: list[str] = []
    for m in _MARK.finditer(line):
        if m.group(3) is not None:
            tokens.append(m.group(3))
            skill.append("O")
            know.append("O")
            continue
        words = m.group(2).split()
        layer, other = (skill, know) if m.group(1) == "S" else (know, skill)
        for i, w in enumerate(words):
            tokens.append(w)
            layer.append("B" if i == 0 else "I")
            other.append("O")
    return tokens, skill, know


def parse_postings(text: str) -> dict[str, list[dict]]:
    """SkillSpan-form rows per split from the marked-up postings file."""
    rows: dict[str, list[dict]] = {"train": [], "dev": []}
    current: tuple[str, str, int] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("## "):
            split, source, idx = line[3:].split()
            current = (split, source, int(idx))
            continue
        if not line or line.startswith("#") or current is None or line.startswith("`") or "Markup:" in line:
            continue
        tokens, skill, know = parse_marked_sentence(line)
        rows[current[0]].append(
            {
                "idx": current[2],
                "tokens": tokens,
                "tags_skill": skill,
                "tags_knowledge": know,
                "source": current[1],
            }
        )
    return rows


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")


def build_sample(out_dir: Path = SAMPLE_DIR, seed: int = 13) -> dict[str, int]:
    """(Re)write the sample's data files from the sources above; returns counts."""
    from common.testing.crowd_sim import CrowdSimConfig, simulate_group_crowd, simulate_span_crowd
    from common.data.skillspan import group_postings
    from common.text.spans import posting_text

    out_dir = Path(out_dir)
    rows = parse_postings((SAMPLE_DIR / "postings.md").read_text(encoding="utf-8"))
    for split, r in rows.items():
        _write_jsonl(out_dir / "skillspan" / f"{split}.jsonl", r)

    esco = out_dir / "esco"
    esco.mkdir(parents=True, exist_ok=True)
    with (esco / "groups.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["code", "label", "level", "parent_code", "uri"])
        for code, label, level, parent in GROUPS:
            w.writerow([code, label, level, parent, f"urn:esco-group:{code}"])
    parent = {c: p for c, _, _, p in GROUPS}
    for split, part in (("train", [s for i, s in enumerate(SKILLS) if i % 4 != 3]), ("dev", SKILLS[3::4])):
        with (esco / f"skills_{split}.csv").open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["uri", "label", "text", "pillar", "groups_l1", "groups_l2"])
            for label, desc, l2 in part:
                codes = l2.split(";")
                l1 = ";".join(dict.fromkeys(parent[c] for c in codes))
                pillar = ";".join(dict.fromkeys("K" if c[0].isdigit() else c[0] for c in codes))
                uri = "urn:jobskills:sample:skill:" + re.sub(r"\W+", "-", label)
                w.writerow([uri, label, f"{label} {desc}", pillar, l1, l2])

    # the inbox: what the quickstart ingests
    inbox = out_dir / "inbox"
    _write_jsonl(inbox / "dev.jsonl", rows["dev"])
    train = group_postings(rows["train"], split="train")
    _write_jsonl(
        inbox / "train_postings.jsonl",
        [
            {
                "posting_id": p.doc_id,
                "text": posting_text(p),
                "source": p.source,
                "split": "train",
                "title": " ".join(p.sentences[0].tokens),
            }
            for p in train
        ],
    )
    cfg = CrowdSimConfig(per_doc=5, seed=seed)
    crowd = simulate_span_crowd(train, cfg)
    labels = []
    for rec in crowd.to_records(train):
        post = next(p for p in train if p.doc_id == rec["doc_id"])
        sent = post.sentences[rec["sent"]]
        labels.append(
            {
                "kind": "span",
                "doc_id": rec["doc_id"],
                "item": str(rec["sent"]),
                "annotator": rec["annotator"],
                "source": "crowd",
                "value": {
                    "tokens": sent.tokens,
                    "tags": {"Skill": rec["tags_skill"], "Knowledge": rec["tags_knowledge"]},
                },
            }
        )
    dev_skills = {label for label, _, _ in SKILLS[3::4]}  # never label dev skills: no leakage
    gold_groups = {label: l2.split(";") for label, _, l2 in SKILLS if label not in dev_skills}
    uri = {label: "urn:jobskills:sample:skill:" + re.sub(r"\W+", "-", label) for label, _, _ in SKILLS}
    for r in simulate_group_crowd(gold_groups, cfg).itertuples(index=False):
        labels.append(
            {
                "kind": "group",
                "doc_id": uri[r.task],
                "item": r.task,
                "annotator": r.worker,
                "source": "crowd",
                "value": {"skill": r.task, "groups": [r.label], "level": 2},
            }
        )
    _write_jsonl(inbox / "crowd_labels.jsonl", labels)
    return {
        "train_postings": len(train),
        "dev_postings": len(group_postings(rows["dev"], split="dev")),
        "skills": len(SKILLS),
        "crowd_labels": len(labels),
    }


if __name__ == "__main__":  # pragma: no cover
    print(build_sample())
