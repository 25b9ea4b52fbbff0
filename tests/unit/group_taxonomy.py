"""A small hand-made taxonomy (2 level-1 groups, 4 level-2 groups) for the group-model tests."""

from __future__ import annotations

import pandas as pd

GROUPS = [
    {"code": "T", "label": "technology", "level": 1, "parent_code": ""},
    {"code": "C", "label": "care and service", "level": 1, "parent_code": ""},
    {"code": "T.1", "label": "software development", "level": 2, "parent_code": "T"},
    {"code": "T.2", "label": "data management", "level": 2, "parent_code": "T"},
    {"code": "C.1", "label": "cooking food", "level": 2, "parent_code": "C"},
    {"code": "C.2", "label": "caring for patients", "level": 2, "parent_code": "C"},
]

_SKILLS = {
    "T.1": ["write python code", "write java code", "develop software", "test software", "debug python programs",
            "design software architecture", "review java code", "develop web software", "maintain python code",
            "write software tests"],
    "T.2": ["manage sql databases", "query sql data", "clean data sets", "analyse data", "design data warehouse",
            "maintain databases", "migrate data", "model data", "store data securely", "report data quality"],
    "C.1": ["cook meals", "prepare food", "bake bread", "season food", "grill meat", "cook vegetables",
            "plan menus", "store food safely", "prepare sauces", "serve meals"],
    "C.2": ["care for patients", "wash patients", "feed patients", "monitor patient health", "comfort patients",
            "dress wounds", "give patients medicine", "assist elderly patients", "lift patients", "record patient care"],
}
# two skills that sit in two level-2 groups at once (the multi-label case)
_MULTI = {"write python data pipelines": ["T.1", "T.2"], "prepare meals for patients": ["C.1", "C.2"]}


def skills() -> pd.DataFrame:
    from common.data.esco import skills_frame

    rows = []
    for code, labels in _SKILLS.items():
        rows += [{"label": s, "groups_l2": [code], "groups_l1": [code.split(".")[0]]} for s in labels]
    for s, codes in _MULTI.items():
        rows.append({"label": s, "groups_l2": codes, "groups_l1": sorted({c.split(".")[0] for c in codes})})
    return skills_frame(rows)


def groups() -> pd.DataFrame:
    return pd.DataFrame(GROUPS)
