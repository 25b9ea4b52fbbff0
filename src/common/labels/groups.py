"""Merging skill-group labels: one-coin Dawid-Skene (vectorised, checked against crowd-kit),
crowd-kit's full Dawid-Skene and majority vote, agreement and accuracy."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd


@dataclass
class GroupMerge:
    """Merged group label per skill with its posterior, per-annotator accuracy, agreement."""

    labels: pd.DataFrame  # task, label, confidence
    annotators: pd.DataFrame  # annotator, n_labels, agreement_with_merged, estimated_accuracy
    agreement: dict[str, float] = field(default_factory=dict)


def one_coin_dawid_skene(
    labels: pd.DataFrame, n_iter: int = 100, tol: float = 1e-7, gold: Mapping[str, str] | None = None
) -> tuple[pd.DataFrame, pd.Series]:
    """One-coin Dawid-Skene: one accuracy per annotator, errors spread evenly over other classes.

    The same model as crowd-kit's ``OneCoinDawidSkene`` (Zhang et al., JMLR 2016), vectorised
    with numpy: crowd-kit's version applies a Python function to every row of every
    annotator's confusion matrix each iteration and needs 1.5-3 minutes for ~1,300 skills and
    130 groups, while this takes well under a second (``tests/unit/test_crowd.py`` checks the
    two agree). The full Dawid-Skene confusion matrix (crowd-kit's ``DawidSkene``) has K*K
    parameters per annotator; with 129 ESCO level-2 groups it overfits and does worse than
    majority vote, so the one-coin model is the default for groups.

    Returns ``(probas, skills)``: posterior per task and class, accuracy per annotator.
    """
    import numpy as np

    t_idx, tasks = pd.factorize(labels["task"])
    w_idx, workers = pd.factorize(labels["worker"])
    l_idx, classes = pd.factorize(labels["label"])
    n_t, n_w, k = len(tasks), len(workers), len(classes)
    post = np.zeros((n_t, k))
    np.add.at(post, (t_idx, l_idx), 1.0)  # majority-vote start
    fixed = None
    if gold:
        cls_pos = {c: i for i, c in enumerate(classes)}
        fixed = [(ti, cls_pos[gold[t]]) for ti, t in enumerate(tasks) if t in gold and gold[t] in cls_pos]
    post /= post.sum(1, keepdims=True)
    prev = -np.inf
    skills = np.full(n_w, 0.5)
    for _ in range(n_iter):
        if fixed:
            for ti, ci in fixed:
                post[ti] = 0.0
                post[ti, ci] = 1.0
        # M-step: expected accuracy of each annotator, class priors
        hit = post[t_idx, l_idx]
        skills = np.bincount(w_idx, weights=hit, minlength=n_w) / np.bincount(w_idx, minlength=n_w)
        skills = np.clip(skills, 1e-6, 1 - 1e-6)
        priors = np.clip(post.mean(0), 1e-12, None)
        # E-step: log posterior = log prior + sum over answers
        wrong = np.log((1 - skills) / max(k - 1, 1))
        logp = np.tile(np.log(priors), (n_t, 1))
        np.add.at(logp, t_idx, wrong[w_idx][:, None])
        np.add.at(logp, (t_idx, l_idx), np.log(skills)[w_idx] - wrong[w_idx])
        logp -= logp.max(1, keepdims=True)
        post = np.exp(logp)
        post /= post.sum(1, keepdims=True)
        ll = float(np.sum(post[t_idx, l_idx]))
        if abs(ll - prev) < tol:
            break
        prev = ll
    return (
        pd.DataFrame(post, index=pd.Index(tasks, name="task"), columns=pd.Index(classes, name="label")),
        pd.Series(skills, index=pd.Index(workers, name="worker"), name="skill"),
    )


def merge_groups(
    labels: pd.DataFrame, method: str = "one_coin", gold: Mapping[str, str] | None = None, n_iter: int = 100
) -> GroupMerge:
    """Merge categorical group labels (``task, worker, label``).

    ``method``: ``one_coin`` (default, see ``one_coin_dawid_skene``), ``dawid_skene``
    (crowd-kit, full confusion matrices: good with few classes and many labels per annotator)
    or ``majority``. ``gold`` (label per task for some tasks) acts as gold questions.
    """
    from crowdkit.aggregation import DawidSkene, MajorityVote

    labels = labels[["task", "worker", "label"]].astype({"task": str, "worker": str, "label": str})
    if labels.empty:
        return GroupMerge(pd.DataFrame(columns=["task", "label", "confidence"]), pd.DataFrame(), {})
    skills = None
    if method == "majority":
        probas = MajorityVote().fit_predict_proba(labels)
    elif method == "dawid_skene":
        agg = DawidSkene(n_iter=n_iter)
        agg.fit(labels, true_labels=pd.Series(dict(gold)) if gold else None)
        probas = agg.probas_
    elif method == "one_coin":
        probas, skills = one_coin_dawid_skene(labels, n_iter=n_iter, gold=gold)
    else:
        raise ValueError(f"unknown group merge method {method!r}; use one_coin, dawid_skene or majority")
    best = probas.idxmax(axis=1)
    merged = pd.DataFrame(
        {"task": probas.index.astype(str), "label": best.values, "confidence": probas.max(axis=1).values}
    )
    ref = dict(zip(merged["task"], merged["label"]))
    ann = (
        labels.assign(ok=[ref.get(t) == lab for t, lab in zip(labels["task"], labels["label"])])
        .groupby("worker")
        .agg(n_labels=("ok", "size"), agreement_with_merged=("ok", "mean"))
        .reset_index()
        .rename(columns={"worker": "annotator"})
    )
    if skills is not None:
        ann["estimated_accuracy"] = ann["annotator"].map(skills.to_dict())
    return GroupMerge(merged, ann, group_agreement(labels))


def group_agreement(labels: pd.DataFrame) -> dict[str, float]:
    """Krippendorff's alpha (crowd-kit) and raw pairwise agreement on skills labelled by 2+ people."""
    from crowdkit.metrics.data import alpha_krippendorff

    multi = labels.groupby("task").filter(lambda g: len(g) > 1)
    if multi.empty:
        return {"alpha": float("nan"), "pairwise_agreement": float("nan")}
    agree, total = 0, 0
    for _, g in multi.groupby("task"):
        for a, b in itertools.combinations(list(g["label"]), 2):
            agree += a == b
            total += 1
    return {
        "alpha": alpha_krippendorff(multi),
        "pairwise_agreement": agree / total if total else float("nan"),
    }


def group_accuracy(merged: pd.DataFrame, gold: dict[str, set[str]]) -> float:
    """Share of skills whose merged label is one of the skill's gold groups (ESCO is multi-label)."""
    rows = [(t, lab) for t, lab in zip(merged["task"], merged["label"]) if t in gold]
    return sum(lab in gold[t] for t, lab in rows) / len(rows) if rows else 0.0
