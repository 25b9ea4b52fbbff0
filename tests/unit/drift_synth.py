"""Synthetic drift-test inputs shared by the drift tests (a helper module, not a test file)."""

from __future__ import annotations

import numpy as np

from common.monitoring.descriptors import MonitoredItem, words


def bag_embedder(dim: int = 16):
    """Deterministic bag-of-words embedding (hashing), enough to tell two vocabularies apart."""
    def embed(texts):
        out = np.zeros((len(texts), dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in words(t):
                out[i, sum(map(ord, w)) % dim] += 1.0
            out[i] /= max(np.linalg.norm(out[i]), 1e-9)
        return out
    return embed


def synthetic_items(rng, vocab: list[str], skills: list[str], n: int, groups: list[str] | None = None):
    items = []
    for _ in range(n):
        text = "\n".join(" ".join(rng.choice(vocab, size=12)) for _ in range(rng.integers(3, 8)))
        kws = tuple((str(s), float(rng.uniform(0.6, 1.0))) for s in rng.choice(skills, size=rng.integers(2, 6)))
        g = tuple(str(x) for x in rng.choice(groups, size=len(kws))) if groups else None
        items.append(MonitoredItem(text, kws, groups=g))
    return items


TECH = ["python", "java", "sql", "cloud", "docker", "kubernetes", "api", "backend", "frontend", "react",
        "testing", "agile", "scrum", "developer", "engineer", "software", "code", "review", "git", "linux", "data"]
CARE = ["patient", "care", "nurse", "hospital", "shift", "clinical", "medication", "ward", "elderly", "support",
        "family", "health", "safety", "hygiene", "rota", "compassion", "residents"]
