"""Synthetic postings for tiny-model tests: tools are Knowledge, 'project management' and
'communication' are Skills, the rest is filler from a tiny BERT's vocabulary.

Shared by the unit tests (``tests/`` is on ``sys.path`` through the root conftest) and by
``tests/services/build_tiny_models.py`` (which runs as a script and adds ``tests/`` itself).
"""

from __future__ import annotations

import random

from common.core.types import Posting, Sentence

KNOWLEDGE = ["python", "java", "sql", "cloud"]
FILLER = ["we", "are", "looking", "for", "a", "team", "with", "strong", "experience", "in", "the", "of", "to", "and", "you", "will", "our", "data"]


def synthetic_postings(n: int, seed: int = 0, split: str = "train") -> list[Posting]:
    """Postings where tools are Knowledge and 'project management' / 'communication' are Skills."""
    rng = random.Random(seed)
    postings = []
    for d in range(n):
        sents = []
        for _ in range(4):
            toks, skill, know = [], [], []
            for _ in range(rng.randint(4, 9)):
                r = rng.random()
                if r < 0.2:
                    toks.append(rng.choice(KNOWLEDGE)); skill.append("O"); know.append("B")
                elif r < 0.3:
                    toks += ["project", "management"]; skill += ["B", "I"]; know += ["O", "O"]
                elif r < 0.35:
                    toks.append("communication"); skill.append("B"); know.append("O")
                else:
                    toks.append(rng.choice(FILLER)); skill.append("O"); know.append("O")
            sents.append(Sentence(tokens=toks, tags={"Skill": skill, "Knowledge": know}))
        postings.append(Posting(doc_id=f"s{d}", source="tech" if d % 2 else "house", sentences=sents,
                                split=split))
    return postings
