"""Real job titles with their ESCO occupation: the split, the training pairs and the figures.

Why: users write "Route Servicer cum Technician", not ESCO's "vending machine operator", and a
plain MiniLM cosine to ESCO's names ranks the right occupation first for a quarter of real titles.
``job_titles_dev.csv`` (15,463 titles from real vacancies, JobBERT's benchmark) gives the
supervision. Its rows are split **at random by title text** (SHA-256 of the case-folded,
whitespace-normalised title; so one text never sits on two sides): 70 % ``train`` (the title
encoder's pairs, and extra names in the title index), 10 % ``calib`` (every choice: the title-only
weights, the confidence calibration, the training length) and 20 % ``test`` (reported only).
The benchmark's own test split (other titles) is held out of this repository altogether.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from common.core.stats import mean_with_interval
from common.occupations.evaluate import ranks_of
from common.occupations.taxonomy import OccupationTaxonomy

TitleSplit = Literal["train", "calib", "test"]
TITLE_ENCODER_DIR = "title_encoder"  # inside an occupation model's folder


def normalise_title(text: str) -> str:
    return " ".join(str(text).split()).casefold()


def title_split(text: str) -> TitleSplit:
    """0-6 train, 7 calib, 8-9 test: the first byte of SHA-256 of the normalised title, modulo 10."""
    bucket = hashlib.sha256(normalise_title(text).encode("utf-8")).digest()[0] % 10
    return "train" if bucket < 7 else ("calib" if bucket == 7 else "test")


class TitlesMissingError(FileNotFoundError):
    """``occupations/job_titles_dev.csv`` is absent (a user machine without ``shared/data``)."""


def load_titles(taxonomy: OccupationTaxonomy, path: str | Path | None = None) -> pd.DataFrame:
    """``text, label, uri, split`` of every title whose label is an occupation's preferred label
    (case-folded; 98.9 % of the rows), in file order."""
    if path is None:
        from common.core.settings import get_settings

        path = get_settings().job_titles_path
    path = Path(path)
    if not path.exists():
        raise TitlesMissingError(f"job titles file not found: {path}")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    if not {"text", "label"} <= set(df.columns):
        raise ValueError(f"{path} needs the columns text,label; found {list(df.columns)}")
    by_label = {normalise_title(lab): uri for lab, uri in zip(taxonomy.occupations["label"],
                                                               taxonomy.occupations["uri"], strict=True)}
    df["text"] = df["text"].map(lambda t: " ".join(str(t).split()))
    df["uri"] = df["label"].map(lambda lab: by_label.get(normalise_title(lab)))
    df = df[df["uri"].notna() & (df["text"] != "")].reset_index(drop=True)
    df["split"] = df["text"].map(title_split)
    return df


def title_pairs(titles: pd.DataFrame, taxonomy: OccupationTaxonomy,
                alt_label_splits: Sequence[str] = ("train",)) -> list[tuple[str, str]]:
    """(a name a person writes, the occupation's preferred label): every ``titles`` row, and
    every alternative label of the occupations in ``alt_label_splits`` (the occupation split of
    ``taxonomy.split_of``: the pseudo-posting protocol's dev and test occupations stay unseen)."""
    label = dict(zip(taxonomy.occupations["uri"], taxonomy.occupations["label"], strict=True))
    pairs = [(t, label[u]) for t, u in zip(titles["text"], titles["uri"], strict=True) if normalise_title(t) !=
             normalise_title(label[u])]
    occ = taxonomy.occupations[taxonomy.occupations["split"].isin(alt_label_splits)]
    pairs += [(a, lab) for lab, alts in zip(occ["label"], occ["alt_labels"], strict=True) for a in alts if a != lab]
    return list(dict.fromkeys(pairs))


def extra_names(titles: pd.DataFrame) -> dict[str, list[str]]:
    """Occupation URI -> the training titles that name it (distinct, in file order): names of the
    title index beside ESCO's own."""
    out: dict[str, list[str]] = {}
    for text, uri in zip(titles["text"], titles["uri"], strict=True):
        names = out.setdefault(uri, [])
        if text not in names:
            names.append(text)
    return out


def rank_table(ranks: np.ndarray) -> dict[str, Any]:
    """R@1 / R@5 / MRR with their bootstrap intervals, from 1-based ranks of the right occupation."""
    ranks = np.asarray(ranks, dtype=np.float64)
    cols = {"r_at_1": (ranks <= 1).astype(float), "r_at_5": (ranks <= 5).astype(float), "mrr": 1.0 / ranks}
    out: dict[str, Any] = {"n": len(ranks)}
    for k, v in cols.items():
        out[k], out[f"{k}_ci"] = mean_with_interval(v)
    return out


def title_scores(ranker: Any, titles: Sequence[str], batch: int = 256) -> np.ndarray:
    """The ranker's raw scores of every occupation for title-only queries, (titles x occupations)."""
    parts = [ranker.scores(list(titles[s : s + batch]), [[]] * len(titles[s : s + batch]))
             for s in range(0, len(titles), batch)]
    return np.concatenate(parts) if parts else np.zeros((0, len(ranker.uris)), dtype=np.float32)


def ranks_and_top(scores: np.ndarray, truth: np.ndarray, top: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """1-based rank of the right occupation per row (ties count against it), and each row's
    ``top`` best columns and whether each is right."""
    best = np.argsort(-scores, axis=1, kind="stable")[:, :top]
    return ranks_of(scores, truth), best, best == truth[:, None]


def plain_cosine_ranks(encoder: Any, taxonomy: OccupationTaxonomy, titles: Sequence[str],
                       truth: np.ndarray, progress: bool = False) -> np.ndarray:
    """The baseline every title model must beat: the best cosine of the title with any of the
    occupation's ESCO names (preferred and alternative; no real titles), with ``encoder``."""
    from common.text.embeddings import embed_texts

    plain = OccupationTaxonomy(taxonomy.occupations.drop(columns=["titles"], errors="ignore"), taxonomy.relations)
    names, owner = plain.names()
    starts = np.concatenate([[0], np.nonzero(np.diff(owner))[0] + 1]).astype(np.int64)
    N = embed_texts(names, encoder=encoder, progress=progress)
    Q = embed_texts(list(titles), encoder=encoder, progress=False)
    ranks = []
    for s in range(0, len(Q), 256):
        S = np.maximum.reduceat(Q[s : s + 256] @ N.T, starts, axis=1)
        ranks.append(ranks_and_top(S, truth[s : s + 256])[0])
    return np.concatenate(ranks) if ranks else np.zeros(0)
