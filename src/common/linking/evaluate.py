"""Scoring a linker on span -> ESCO annotations (Decorte et al. 2022, SkillSpan's TECH and HOUSE).

Each annotation is ``sentence, span, sub_span, label``. The query is ``sub_span`` when the
annotators split a coordinated span ("innovation and engineering practices" -> "engineering
practices"), else ``span``, with end punctuation stripped. ``label`` is an ESCO preferred label,
``LABEL NOT PRESENT`` (a skill ESCO lacks) or ``UNDERSPECIFIED``.

Figures: R@1, R@5 and MRR@10 over spans whose label is a skill of the taxonomy (a few labels are
ESCO v1.1.0 names that v1.2.0 renamed; they count as not linkable rather than as misses);
``unlinked_not_present``: the share of ``LABEL NOT PRESENT`` spans left unlinked; and
``linked_correct``: the share of linkable spans linked, above the threshold, to their own skill.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

NOT_PRESENT = "LABEL NOT PRESENT"
UNDERSPECIFIED = "UNDERSPECIFIED"
VALIDATION_FILES = {"tech": "tech_validation_annotations.csv", "house": "house_validation_annotations.csv"}
TECHWOLF_FILE = "techwolf_annotations.csv"  # the third site: sentence level only


def decorte_dir() -> Path:
    from common.core.settings import get_settings

    return get_settings().shared_data_dir / "decorte"


def load_annotations(path: str | Path) -> pd.DataFrame:
    """One annotation file with its ``query`` column (sub-span, else span, end punctuation stripped)."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in ("sentence", "span", "sub_span", "label") if c not in df.columns]
    if missing:
        raise ValueError(f"{path} lacks columns {missing}")
    q = [s if s.strip() else sp for sp, s in zip(df["span"], df["sub_span"], strict=True)]
    df["query"] = [" ".join(x.split()).strip(" .,;:!?") for x in q]
    return df


def load_validation(root: str | Path | None = None, missing_ok: bool = False) -> dict[str, pd.DataFrame]:
    """The TECH and HOUSE validation files by name; ``{}`` when absent and ``missing_ok``."""
    root = Path(root) if root is not None else decorte_dir()
    out = {}
    for name, file in VALIDATION_FILES.items():
        if (root / file).exists():
            out[name] = load_annotations(root / file)
        elif not missing_ok:
            raise FileNotFoundError(f"validation annotations not found: {root / file}")
    return out


def gold_rows(linker: Any, df: pd.DataFrame) -> np.ndarray:
    """The taxonomy row of each annotation's label; -1 for not-present, underspecified or unknown labels."""
    row_of = {lab: i for i, lab in enumerate(linker.labels)}
    return np.array([row_of.get(lab, -1) for lab in df["label"]], dtype=np.int64)


def ranks_and_scores(S: np.ndarray, gold: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per span: the gold skill's rank (0 when not linkable), the best score, and the best skill."""
    best = S.argmax(axis=1) if S.size else np.zeros(0, dtype=np.int64)
    top = S[np.arange(len(S)), best] if S.size else np.zeros(0)
    rank = np.zeros(len(S), dtype=np.int64)
    ok = gold >= 0
    if ok.any():
        g = S[np.nonzero(ok)[0], gold[ok]]
        rank[ok] = (S[ok] > g[:, None]).sum(axis=1) + 1
    return rank, top, best


def link_metrics(S: np.ndarray, df: pd.DataFrame, gold: np.ndarray, threshold: float) -> dict[str, Any]:
    rank, top, best = ranks_and_scores(S, gold)
    ok = gold >= 0
    r = rank[ok]
    absent = (df["label"] == NOT_PRESENT).to_numpy()
    under = (df["label"] == UNDERSPECIFIED).to_numpy()
    linked = top >= threshold
    return {
        "spans": len(df), "linkable": int(ok.sum()), "not_present": int(absent.sum()),
        "r_at_1": float(np.mean(r <= 1)) if len(r) else 0.0,
        "r_at_5": float(np.mean(r <= 5)) if len(r) else 0.0,
        "mrr_at_10": float(np.mean(np.where(r <= 10, 1.0 / r, 0.0))) if len(r) else 0.0,
        "linked_correct": float(np.mean(linked[ok] & (best[ok] == gold[ok]))) if ok.any() else 0.0,
        "unlinked_not_present": float(np.mean(~linked[absent])) if absent.any() else 0.0,
        "unlinked_underspecified": float(np.mean(~linked[under])) if under.any() else 0.0,
        "threshold": float(threshold),
    }


def score_matrix(linker: Any, df: pd.DataFrame, context: bool = True) -> np.ndarray:
    return linker.scores(df["query"].tolist(), df["sentence"].tolist() if context else None)


def evaluate_linker(linker: Any, validation: dict[str, pd.DataFrame], context: bool = True) -> dict[str, Any]:
    """Metrics per file, plus ``r_at_1`` etc. as the mean over files (the registry's primary metric)."""
    out: dict[str, Any] = {}
    for name, df in validation.items():
        out[name] = link_metrics(score_matrix(linker, df, context), df, gold_rows(linker, df), linker.threshold)
    if out:
        for key in ("r_at_1", "r_at_5", "mrr_at_10", "linked_correct", "unlinked_not_present"):
            out[key] = float(np.mean([out[n][key] for n in validation]))
    return out


def choose_threshold(linker: Any, validation: dict[str, pd.DataFrame], context: bool = True,
                     leave_unlinked: float = 0.55) -> float:
    """The lowest abstention threshold that leaves at least ``leave_unlinked`` of the not-present
    spans unlinked in every validation file.

    Why this rule and not a balanced optimum: below the threshold every span is unlinked, right
    or wrong, so each step up trades correct links for avoided wrong ones. The balanced optimum
    left ~85 % of not-present spans alone but only ~50 % of linkable spans linked; a deployment
    wants as many right IDs as it can get while most spans ESCO lacks stay unlinked, and this
    states that policy as one number (``LinkerConfig.leave_unlinked``). Per file rather than
    pooled: a pooled 60 % left HOUSE, the other site, under half.
    """
    thresholds = []
    for df in validation.values():
        _, top, _ = ranks_and_scores(score_matrix(linker, df, context), gold_rows(linker, df))
        t = leave_unlinked_threshold(top, (df["label"] == NOT_PRESENT).to_numpy(), leave_unlinked)
        if t is not None:
            thresholds.append(t)
    if not thresholds:
        return float(linker.threshold) if leave_unlinked > 0 else 0.0
    return max(thresholds)


def leave_unlinked_threshold(scores: np.ndarray, not_present: np.ndarray, leave_unlinked: float) -> float | None:
    """The rule on one file and one statistic: the lowest threshold under which ``leave_unlinked``
    of the not-present spans' ``scores`` fall; None when that is no span."""
    absent = np.sort(scores[not_present])
    k = int(np.ceil(leave_unlinked * len(absent)))
    if k == 0:
        return None
    return float(np.round(absent[k - 1] + 1e-4, 4))  # every not-present span scoring below it stays unlinked


# ---- sentence level: the ESCO skills ranked for each sentence (common.linking.skills) -----------

def sentence_gold(linker: Any, df: pd.DataFrame) -> pd.DataFrame:
    """One row per annotated sentence: ``gold`` (taxonomy rows of its span labels, merged) and
    ``n_gold`` (its distinct labels, including any the taxonomy lacks: they count as misses).
    ``LABEL NOT PRESENT`` and ``UNDERSPECIFIED`` are dropped, as in the published setting; a
    sentence left without labels keeps ``n_gold`` 0 (it should imply nothing ESCO has)."""
    row_of = {lab: i for i, lab in enumerate(linker.labels)}
    rows = []
    for sent, part in df.groupby("sentence", sort=False):
        labels = sorted({x for x in part["label"] if x not in (NOT_PRESENT, UNDERSPECIFIED)})
        rows.append({"sentence": sent, "gold": {row_of[x] for x in labels if x in row_of}, "n_gold": len(labels)})
    return pd.DataFrame(rows)


def rp_at_k(score: np.ndarray, gold: list[set[int]], n_gold: list[int], k: int) -> float:
    """RP@k (Decorte et al.): hits among the k best / min(k, gold labels), averaged over sentences."""
    vals = []
    for row, g, n in zip(score, gold, n_gold, strict=True):
        if n:
            top = np.argpartition(-row, k - 1)[:k]
            vals.append(len(set(top.tolist()) & g) / min(k, n))
    return float(np.mean(vals)) if vals else 0.0


def sentence_metrics(ranking: Any, sents: pd.DataFrame, cfg: Any, implied_threshold: float | None = None
                     ) -> dict[str, Any]:
    """RP@5 / RP@10 of the fused ranking, and of what is *reported* (named + implied skills):
    precision, recall, the implied skills' own precision, and the share of label-less sentences
    (their spans are all ``LABEL NOT PRESENT`` / ``UNDERSPECIFIED``) left with no implied skill."""
    from common.linking.skills import reported

    gold, n_gold = sents["gold"].tolist(), sents["n_gold"].tolist()
    tp = n_rep = n_rel = imp_tp = imp_n = 0
    no_implied = []
    for i, (g, n) in enumerate(zip(gold, n_gold, strict=True)):
        named, implied = reported(ranking, i, cfg, implied_threshold)
        got = set(named) | set(implied)
        if n:
            tp += len(got & g)
            n_rel += n
            imp_tp += len(set(implied) & g)
        else:
            no_implied.append(not implied)
        n_rep += len(got)
        imp_n += len(implied)
    p = tp / n_rep if n_rep else 0.0
    r = tp / n_rel if n_rel else 0.0
    return {"sentences": int(sum(1 for n in n_gold if n)), "rp_at_5": rp_at_k(ranking.score, gold, n_gold, 5),
            "rp_at_10": rp_at_k(ranking.score, gold, n_gold, 10), "reported_precision": p, "reported_recall": r,
            "implied": imp_n, "implied_precision": imp_tp / imp_n if imp_n else 0.0,
            "label_less_without_implied": float(np.mean(no_implied)) if no_implied else None}


def choose_implied_threshold(ranking: Any, sents: pd.DataFrame, cfg: Any, leave_empty: float = 0.55,
                             grid: tuple[float, ...] = tuple(np.round(np.arange(0.40, 0.801, 0.01), 2))) -> float:
    """The lowest implied-skill threshold that leaves ``leave_empty`` of the label-less sentences
    without an implied skill: the linker's abstention policy (``LinkerConfig.leave_unlinked``)
    applied to sentences. Why not the best F1 of reported skills: implied skills are right about
    one time in six on the validation files, so F1 always prefers reporting none, and a sentence
    that implies a skill no keyword names would never show it."""
    for t in grid:
        left = sentence_metrics(ranking, sents, cfg, t)["label_less_without_implied"]
        if left is None or left >= leave_empty:
            return float(t)
    return float(grid[-1])


# ---- what users get: the served skills of a posting (common.linking.skills.link_posting) -------

def load_sites(root: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """The three Decorte sites as ``sentence,label`` rows: TECH and HOUSE (span files; their
    spans' labels per sentence) and TECHWOLF (sentence level only); those present."""
    root = Path(root) if root is not None else decorte_dir()
    out = {name: df[["sentence", "label"]] for name, df in load_validation(root, missing_ok=True).items()}
    if (root / TECHWOLF_FILE).exists():
        df = pd.read_csv(root / TECHWOLF_FILE, dtype=str, keep_default_na=False)
        if not {"sentence", "label"} <= set(df.columns):
            raise ValueError(f"{root / TECHWOLF_FILE} needs the columns sentence,label")
        out["techwolf"] = df[["sentence", "label"]]
    return out


def served_rp_at_k(linker: Any, keywords_of: Any, sents: pd.DataFrame, k: int = 5) -> np.ndarray:
    """Per sentence with a gold label, RP@k of the skills ``link_posting`` serves for it as a
    one-sentence posting (hits in its first k / min(k, gold labels)); ``keywords_of(texts)`` gives
    each text's keywords (the served tagger). Labels ESCO lacks count as misses."""
    from common.linking.skills import link_posting

    rows = sents[sents["n_gold"] > 0]
    texts = rows["sentence"].tolist()
    kws = keywords_of(texts)
    out = []
    for text, ks, gold, n in zip(texts, kws, rows["gold"], rows["n_gold"], strict=True):
        got = [linker.uri_row(s.uri) for s in link_posting(linker, text, ks).skills[:k]]
        out.append(len(set(got) & gold) / min(k, n))
    return np.asarray(out, dtype=np.float64)


def hub_rate(linker: Any, texts: Sequence[str], keywords: Sequence[Sequence[Any]], cfg: Any = None,
             progress: bool = False) -> dict[str, Any]:
    """The hub rate of the skills ``link_posting`` serves for ``texts``: the share of postings whose
    skills include the most frequent non-transversal implied skill (``per_posting``: whether each
    does), that skill's label, and the implied share of all served skills."""
    from collections import Counter

    from common.linking.skills import link_posting

    skills = linker.taxonomy.skills
    transversal = set(skills.loc[skills["reuse_level"].astype(str) == "transversal", "uri"]) \
        if "reuse_level" in skills else set()
    pairs = zip(texts, keywords, strict=True)
    if progress:
        from tqdm.auto import tqdm

        pairs = tqdm(pairs, total=len(texts), desc="hub rate", unit="posting")
    per, implied, total = [], 0, 0
    for text, ks in pairs:
        found = link_posting(linker, text, ks, cfg).skills
        total += len(found)
        implied += sum(s.implied for s in found)
        per.append({s.uri for s in found if s.implied and s.uri not in transversal})
    counts = Counter(u for got in per for u in got)
    hub = counts.most_common(1)[0][0] if counts else None
    return {"rate": counts[hub] / len(texts) if hub else 0.0, "hub": linker.labels[linker.uri_row(hub)] if hub else "-",
            "per_posting": [hub in got for got in per] if hub else [False] * len(per),
            "implied_share": implied / max(total, 1), "skills": total}
