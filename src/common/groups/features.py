"""SkillBERT's (skill, group) pair features, computed without label leakage.

The seed paper (SkillBERT, seed 004) scores every (skill, competency group) pair with XGBoost
over features that relate the skill to the group: a small network's probability, similarity to
the group's name, the top-k similarity to the group's known skills, cluster labels, the
skill's TF-IDF weight within the group and the group's size. This module computes them from

* ``Q``  - query skill embeddings (n_q, d), L2-normalised;
* ``K``  - known (training) skill embeddings (n_k, d) with their label matrix ``Y`` (n_k, G);
* ``self_index`` - for each query, its own row in ``K`` or -1 (a new skill).

Leakage rule: a query's own labels never enter its features. Neighbour features (top-k
similarity, nearest-neighbour TF-IDF) leave the query's own row out (``self_index >= 0``);
group statistics (cluster-group shares, lexical group documents) and the network probability
come from the other folds for training skills. A per-skill leave-one-out *statistic* is not
enough: it differs by the skill's own membership, and XGBoost decodes that given the group
(the first full run scored 0.995 on held-out train skills and 0.51 on dev). A dev or new
skill has ``self_index = -1`` and sees exactly the training labels.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from common.core.quiet import summarised_warnings

if TYPE_CHECKING:
    from common.groups.model import GroupModel, LevelState

logger = logging.getLogger(__name__)

EPS = 1e-9


def _self_mask_rows(sims: np.ndarray, self_index: np.ndarray) -> np.ndarray:
    """Set each query's similarity to itself to -inf (in place) and return ``sims``."""
    rows = np.nonzero(self_index >= 0)[0]
    if rows.size:
        sims[rows, self_index[rows]] = -np.inf
    return sims


def topk_group_similarity(
    Q: np.ndarray, K: np.ndarray, Y: np.ndarray, self_index: np.ndarray, ks: Sequence[int] = (1, 2, 3),
    chunk: int = 1024,
) -> np.ndarray:
    """(n_q, G, len(ks)): mean of the top-k cosine similarities to each group's known skills.

    The query itself is left out. A group with fewer than k other members averages what it
    has; a group with none gets -1 (the lowest cosine).
    """
    n_q, G = Q.shape[0], Y.shape[1]
    kmax = max(ks)
    out = np.full((n_q, G, len(ks)), -1.0, dtype=np.float32)
    members = [np.nonzero(Y[:, g])[0] for g in range(G)]
    for start in range(0, n_q, chunk):
        sl = slice(start, min(n_q, start + chunk))
        sims = Q[sl] @ K.T
        _self_mask_rows(sims, self_index[sl] if self_index is not None else np.full(sims.shape[0], -1))
        for g, idx in enumerate(members):
            if idx.size == 0:
                continue
            s = sims[:, idx]
            take = min(kmax, idx.size)
            top = -np.sort(-s, axis=1)[:, :take] if idx.size <= 64 else -np.sort(
                -np.partition(s, idx.size - take, axis=1)[:, idx.size - take :], axis=1
            )
            valid = np.isfinite(top)
            top = np.where(valid, top, 0.0)
            csum, ccount = np.cumsum(top, axis=1), np.cumsum(valid, axis=1)
            for j, k in enumerate(ks):
                kk = min(k, take) - 1
                cnt = ccount[:, kk]
                out[sl, g, j] = np.where(cnt > 0, csum[:, kk] / np.maximum(cnt, 1), -1.0)
    return out


def nearest_known(Q: np.ndarray, K: np.ndarray, self_index: np.ndarray, k: int, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Indices and cosines (n_q, k) of each query's k nearest known skills, itself excluded."""
    n_q = Q.shape[0]
    k = min(k, K.shape[0] - 1 if (self_index >= 0).any() else K.shape[0])
    idx_out = np.zeros((n_q, k), dtype=np.int64)
    sim_out = np.zeros((n_q, k), dtype=np.float32)
    for start in range(0, n_q, chunk):
        sl = slice(start, min(n_q, start + chunk))
        sims = _self_mask_rows(Q[sl] @ K.T, self_index[sl])
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        psims = np.take_along_axis(sims, part, axis=1)
        order = np.argsort(-psims, axis=1)
        idx_out[sl] = np.take_along_axis(part, order, axis=1)
        sim_out[sl] = np.take_along_axis(psims, order, axis=1)
    return idx_out, sim_out


def skill_tfidf_in_groups(Y: np.ndarray) -> np.ndarray:
    """(n_k, G) TF-IDF weight of each known skill (a term) in each group (a document).

    A group's "document" is the list of its skills, so a skill's term frequency there is 1
    and its inverse document frequency is high when it sits in few groups; rows are
    l2-normalised per group as in ``TfidfTransformer``. Zero where the skill is not a member.
    """
    from sklearn.feature_extraction.text import TfidfTransformer

    w = TfidfTransformer(norm="l2", smooth_idf=True).fit_transform(sp.csr_matrix(Y.T.astype(np.float64)))
    return np.asarray(w.T.todense(), dtype=np.float32)


def neighbour_tfidf(nn_idx: np.ndarray, Y: np.ndarray, k: int = 3) -> np.ndarray:
    """(n_q, G): a skill's TF-IDF weight per group, averaged over its k nearest known skills.

    The paper's rule for new skills; training skills use it too (with themselves left out of
    the neighbours), so train and dev features come from the same distribution. The group's
    normalising length is the same for every query: a per-skill leave-one-out length would
    differ by the skill's own membership and give its label away to the classifier.
    """
    return skill_tfidf_in_groups(Y)[nn_idx[:, :k]].mean(axis=1)


def cluster_group_share(
    q_clusters: np.ndarray, k_clusters: np.ndarray, Y: np.ndarray, n_clusters: int, q_fold: np.ndarray | None = None,
    k_fold: np.ndarray | None = None,
) -> np.ndarray:
    """(n_q, G): share of the query's cluster's known members that belong to each group.

    Training queries (``q_fold >= 0``) count only known skills of the other folds: a
    leave-one-out count would differ by the skill's own membership, which the classifier can
    decode from (cluster, group) and the share. New skills count all known skills.
    """
    def counts(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = np.zeros((n_clusters, Y.shape[1]), dtype=np.float64)
        np.add.at(c, k_clusters[mask], Y[mask].astype(np.float64))
        return c, np.bincount(k_clusters[mask], minlength=n_clusters).astype(np.float64)

    c_all, n_all = counts(np.ones(len(Y), dtype=bool))
    out = (c_all[q_clusters] / np.maximum(n_all[q_clusters], 1)[:, None]).astype(np.float32)
    if q_fold is not None and k_fold is not None:
        for f in np.unique(q_fold[q_fold >= 0]):
            rows = np.nonzero(q_fold == f)[0]
            c, n = counts(k_fold != f)
            out[rows] = c[q_clusters[rows]] / np.maximum(n[q_clusters[rows]], 1)[:, None]
    return out


class LexicalGroups:
    """Word-level TF-IDF of each group's document (its known skills' texts), cosine per pair.

    Complements embeddings with exact vocabulary ("welding", "ICT"). For a training skill in
    a group, its own words are subtracted from that group's document before the cosine.
    """

    def __init__(self, max_features: int = 30000) -> None:
        self.max_features = max_features

    def fit(self, texts: Sequence[str], Y: np.ndarray) -> LexicalGroups:
        from sklearn.feature_extraction.text import CountVectorizer

        self.vectorizer = CountVectorizer(
            stop_words="english", max_features=self.max_features, min_df=1, dtype=np.float64
        )
        self.C = self.vectorizer.fit_transform(texts).tocsr()  # (n_k, V)
        self.Yt = sp.csr_matrix(Y.T.astype(np.float64))  # (G, n_k)
        self.D = (self.Yt @ self.C).toarray()  # (G, V) group word counts
        # idf over the skills (not the groups) so that it carries no label information
        df = np.asarray((self.C > 0).sum(axis=0)).ravel()
        self.idf = np.log((1 + self.C.shape[0]) / (1 + df)) + 1.0
        self.Dn = self._norm_rows(self.D * self.idf)
        return self

    @staticmethod
    def _norm_rows(M: np.ndarray) -> np.ndarray:
        return M / np.maximum(np.linalg.norm(M, axis=1, keepdims=True), EPS)

    def _query_vectors(self, texts: Sequence[str]) -> sp.csr_matrix:
        X = self.vectorizer.transform(texts).multiply(self.idf).tocsr()
        norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1))).ravel()
        return sp.diags(1.0 / np.maximum(norms, EPS)) @ X

    def transform(self, texts: Sequence[str], q_fold: np.ndarray | None = None, k_fold: np.ndarray | None = None) -> np.ndarray:
        """(n_q, G) cosine between each text and each group's document.

        Training queries (``q_fold >= 0``) are compared with documents built from the other
        folds only, so neither their own words nor their own labels shape the documents.
        """
        X = self._query_vectors(texts)
        out = np.asarray(X @ self.Dn.T, dtype=np.float32)
        if q_fold is not None and k_fold is not None:
            for f in np.unique(q_fold[q_fold >= 0]):
                rows = np.nonzero(q_fold == f)[0]
                keep = sp.diags((k_fold != f).astype(np.float64))
                D = (self.Yt @ keep @ self.C).toarray()
                out[rows] = np.asarray(X[rows] @ self._norm_rows(D * self.idf).T, dtype=np.float32)
        return out


# ---- pair features and cluster labels ------------------------------------------------------

# ---- pair features ----------------------------------------------------------------------------

def parent_probabilities(st: LevelState, level1_prob: np.ndarray) -> np.ndarray:
    """(n, G): the level-1 network's probability of each level-2 group's parent (0 without one)."""
    out = np.zeros((len(level1_prob), len(st.codes)), dtype=np.float32)
    has = st.parent_idx >= 0
    out[:, has] = level1_prob[:, st.parent_idx[has]]
    return out


def pair_features(model: GroupModel, st: LevelState, Q: np.ndarray, texts: Sequence[str],
                  self_index: np.ndarray, nn_prob: np.ndarray, parent_prob: np.ndarray | None = None,
                  folds: np.ndarray | None = None,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Feature rows for each query's candidate groups: (X, query rows, group cols, names).

    ``parent_prob`` (level 2 only): the level-1 network's probability of the group's parent,
    out-of-fold for training skills like ``nn_prob``. ``folds``: the known skills' fold ids
    (training features); a training query's group statistics come from the other folds.
    """
    q_fold = k_fold = None
    if folds is not None:
        k_fold = folds
        q_fold = np.where(self_index >= 0, folds[np.maximum(self_index, 0)], -1)
    cfg = model.cfg
    feats = set(cfg.features)
    n, G = len(Q), len(st.codes)
    K = model.known_emb
    topk = topk_group_similarity(Q, K, st.Y, self_index)  # (n, G, 3)
    # candidates: top-N by the network, plus top-N/3 by nearest-skill similarity
    n_cand = min(G, cfg.candidates.get(st.level, G))
    cand = np.zeros((n, G), dtype=bool)
    np.put_along_axis(cand, np.argsort(-nn_prob, axis=1)[:, :n_cand], True, axis=1)
    np.put_along_axis(cand, np.argsort(-topk[:, :, 0], axis=1)[:, : max(1, n_cand // 3)], True, axis=1)
    rows, cols = np.nonzero(cand)

    blocks: list[np.ndarray] = []
    names: list[str] = []

    def add(name: str, mat: np.ndarray) -> None:
        blocks.append(mat[rows, cols].astype(np.float32)[:, None])
        names.append(name)

    def rank_of(mat: np.ndarray) -> np.ndarray:
        return np.argsort(np.argsort(-mat, axis=1), axis=1).astype(np.float32)

    if "nn" in feats:
        add("nn_prob", nn_prob)
        add("nn_rank", rank_of(nn_prob))
        if parent_prob is not None:
            add("parent_nn_prob", parent_prob)
    if "name" in feats:
        add("name_cos", Q @ st.name_emb.T)
        if st.parent_name_emb is not None:
            add("parent_name_cos", Q @ st.parent_name_emb.T)
    if "topk" in feats:
        for j, k in enumerate((1, 2, 3)):
            add(f"top{k}_sim", topk[:, :, j])
        add("top1_rank", rank_of(topk[:, :, 0]))
    need_nn = "tfidf" in feats or "clusters" in feats
    if need_nn:
        nn_idx, _ = nearest_known(Q, K, self_index, k=max(5, cfg.tfidf_neighbours))
    if "tfidf" in feats:
        add("tfidf_knn", neighbour_tfidf(nn_idx, st.Y, cfg.tfidf_neighbours))
    if "clusters" in feats:
        Qr = model.pca.transform(Q) if model.pca is not None else Q
        km_q = model.kmeans.predict(Qr.astype(model.kmeans.cluster_centers_.dtype))
        add("kmeans_share", cluster_group_share(km_q, st.km_known, st.Y, model.kmeans.n_clusters, q_fold, k_fold))
        sp_q = majority_label(st.sp_known[nn_idx[:, :5]], model.n_spectral)
        add("spectral_share", cluster_group_share(sp_q, st.sp_known, st.Y, model.n_spectral, q_fold, k_fold))
        add("kmeans_id", np.repeat(km_q[:, None], G, axis=1))
        add("spectral_id", np.repeat(sp_q[:, None], G, axis=1))
    if "lexical" in feats and st.lexical is not None:
        lex = st.lexical.transform(texts, q_fold, k_fold)
        add("lexical_cos", lex)
        add("lexical_rank", rank_of(lex))
    if "size" in feats:
        # the same value for every skill: a leave-one-out size would reveal the skill's membership
        size = np.repeat(st.Y.sum(axis=0).astype(np.float32)[None, :], n, axis=0)
        add("group_log_size", np.log1p(size))
        add("group_id", np.repeat(np.arange(G, dtype=np.float32)[None, :], n, axis=0))
    if "embedding" in feats and model.pca is not None:
        Qr = model.pca.transform(Q).astype(np.float32)
        blocks.append(Qr[rows])
        names.extend(f"emb{i}" for i in range(Qr.shape[1]))
    X = np.hstack(blocks) if blocks else np.zeros((len(rows), 0), dtype=np.float32)
    return X, rows, cols, names


def majority_label(labels: np.ndarray, n_labels: int) -> np.ndarray:
    counts = np.zeros((labels.shape[0], max(n_labels, 1)), dtype=np.int32)
    for j in range(labels.shape[1]):
        np.add.at(counts, (np.arange(labels.shape[0]), labels[:, j]), 1)
    return counts.argmax(axis=1)




def spectral_labels(X: np.ndarray, n_clusters: int, n_neighbors: int, max_points: int, seed: int) -> np.ndarray:
    """Spectral cluster labels for all rows; fitted on at most ``max_points`` rows (its cost grows
    much faster than linearly), the others take the majority label of their 5 nearest sampled rows."""
    from sklearn.cluster import SpectralClustering

    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(len(X), size=min(max_points, len(X)), replace=False))
    Xs = X[sample]
    sc = SpectralClustering(n_clusters=min(n_clusters, len(Xs) // 2), affinity="nearest_neighbors",
                            n_neighbors=min(n_neighbors, len(Xs) - 1), eigen_solver=eigen_solver(len(Xs)),
                            assign_labels="cluster_qr", random_state=seed)
    with summarised_warnings("spectral clustering", logger):  # lobpcg tolerance warnings print arrays
        lab_s = sc.fit_predict(Xs)
    labels = np.empty(len(X), dtype=np.int64)
    labels[sample] = lab_s
    rest = np.setdiff1d(np.arange(len(X)), sample)
    if rest.size:
        Xn = Xs / np.maximum(np.linalg.norm(Xs, axis=1, keepdims=True), 1e-9)
        Xr = X[rest] / np.maximum(np.linalg.norm(X[rest], axis=1, keepdims=True), 1e-9)
        idx, _ = nearest_known(Xr.astype(np.float32), Xn.astype(np.float32), np.full(len(rest), -1), k=min(5, len(Xs)))
        labels[rest] = majority_label(lab_s[idx], int(lab_s.max()) + 1)
    return labels


def eigen_solver(n: int) -> str:
    """``amg`` (pyamg) for thousands of skills: ARPACK needs many minutes for 150 eigenvectors."""
    if n < 500:
        return "arpack"
    try:
        import pyamg  # noqa: F401
    except ImportError:
        return "arpack"
    return "amg"
