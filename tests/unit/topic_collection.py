"""A small hand-written collection with three clear themes, for topic tests (not a test module)."""

from __future__ import annotations

import random

THEMES = {
    "software": [
        "We are hiring a software developer to write Python code and review pull requests.",
        "You will design REST APIs in Java and deploy services to the cloud.",
        "Experience with SQL databases, Git and automated testing of software is required.",
        "Our developers build web applications with JavaScript frameworks and Docker containers.",
        "Debug production code, write unit tests and improve software performance.",
        "Knowledge of Kubernetes, Linux servers and continuous integration pipelines.",
    ],
    "nursing": [
        "The ward needs a registered nurse to care for patients on night shifts.",
        "You will give medication to patients, monitor vital signs and support doctors.",
        "Nursing experience in a hospital intensive care unit is an advantage.",
        "Assist patients with daily hygiene and keep accurate clinical records.",
        "Work with the nursing team to plan patient care and talk with families.",
        "A nurse who stays calm in emergencies and treats every patient with compassion.",
    ],
    "welding": [
        "We need a welder to join steel beams and metal frames in our workshop.",
        "Operate MIG and TIG welding machines and cut metal sheets to size.",
        "Read technical drawings and inspect welds for cracks in the steel.",
        "The welder grinds metal parts, fits pipes and follows safety rules in the plant.",
        "Experience with arc welding of stainless steel and aluminium is required.",
        "Maintain welding equipment, torches and protective gear on the shop floor.",
    ],
}


def themed_collection(per_theme: int = 8, seed: int = 0) -> tuple[list[str], list[str]]:
    """``per_theme`` postings per theme, each 3 sentences of its theme on separate lines; and the themes."""
    rng = random.Random(seed)
    texts, themes = [], []
    for theme, sents in THEMES.items():
        for _ in range(per_theme):
            texts.append("\n".join(rng.sample(sents, 3)))
            themes.append(theme)
    return texts, themes
