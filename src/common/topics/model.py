"""BERT topic modelling over postings (seeds 000 and 001) and per-posting topics, tags, summary.

Fit: long postings are split into paragraphs that fit the encoder; paragraphs are embedded with
the configured sentence encoder (``settings.encoder_path``; a plain Hugging Face folder gets mean
pooling from sentence-transformers), reduced (UMAP, or PCA/SVD), clustered (HDBSCAN, or
k-means), and each cluster's paragraphs are joined into one class document whose class-based
TF-IDF words describe the topic (``common.topics.ctfidf``). Describe: a new text's paragraphs are
embedded and its mean embedding is compared with each topic's centroid (cosine), so no reducer
or clusterer has to be pickled and a saved model is a few JSON/NumPy files.

The model is saved as a folder: ``topic_model.json`` (config, topics, fit info),
``centroids.npy``, ``documents.json`` (each fitted document's topics), ``map.npz`` and
``topic_map.png`` (2-D map of the paragraphs, coloured by topic).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from common.core.artifacts import publish_latest
from common.core.types import Keyword
from common.text.embeddings import Encoder
from common.topics.config import TopicConfig

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MODEL_FILE = "topic_model.json"
# SkillSpan's de-identification placeholders (<ORGANIZATION>, <ADDRESS>, ...) are not words of a topic.
_PLACEHOLDER = re.compile(r"<[A-Z_]+>")
TOKEN_PATTERN = r"(?u)\b[a-zA-Z][a-zA-Z0-9]+\b"


# ------------------------------------------------------------------------------------------
# Paragraphs and embeddings
# ------------------------------------------------------------------------------------------


def clean_text(text: str) -> str:
    """Text for word counting: placeholders removed."""
    return _PLACEHOLDER.sub(" ", text)


def split_paragraphs(text: str, max_words: int = 120, min_words: int = 3) -> list[str]:
    """Paragraphs of a posting that fit the encoder (seed 001: "divide into small paragraphs").

    Lines are packed greedily into paragraphs of at most ``max_words`` words (a blank line always
    ends one); a longer single line is cut into ``max_words`` pieces; a fragment shorter than
    ``min_words`` joins the paragraph before it.
    """
    paras: list[str] = []
    cur: list[str] = []

    def flush() -> None:
        if cur:
            paras.append(" ".join(cur))
            cur.clear()

    for block in re.split(r"\n\s*\n", text):
        for line in block.splitlines():
            words = line.split()
            while len(words) > max_words:
                flush()
                paras.append(" ".join(words[:max_words]))
                words = words[max_words:]
            if not words:
                continue
            if sum(len(p.split()) for p in cur) + len(words) > max_words:
                flush()
            cur.append(" ".join(words))
        flush()
    merged: list[str] = []
    for p in paras:
        if merged and len(p.split()) < min_words and len(merged[-1].split()) + len(p.split()) <= max_words:
            merged[-1] = f"{merged[-1]} {p}"
        else:
            merged.append(p)
    return merged


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


# ------------------------------------------------------------------------------------------
# Reduction and clustering
# ------------------------------------------------------------------------------------------


def reduce_embeddings(emb: np.ndarray, cfg: TopicConfig, seed: int | None = None) -> np.ndarray:
    """Lower-dimensional embeddings for clustering (density clustering suffers in 384 dimensions)."""
    seed = cfg.seed if seed is None else seed
    n = len(emb)
    dim = max(1, min(cfg.n_components, emb.shape[1], n - 1))
    if cfg.reducer == "none" or n <= dim + 1:
        return emb
    if cfg.reducer == "umap" and n > cfg.n_neighbors + 1:
        try:
            import umap  # numba JIT: the first call in a process compiles (tens of seconds)

            return umap.UMAP(
                n_neighbors=cfg.n_neighbors, n_components=dim, metric="cosine", min_dist=0.0, random_state=seed,
                n_jobs=1,
            ).fit_transform(emb)
        except ImportError:  # pragma: no cover - umap-learn is a dependency; keep working without it
            log.warning("umap-learn is not installed; reducing with PCA instead")
    if cfg.reducer == "svd":
        from sklearn.decomposition import TruncatedSVD

        return TruncatedSVD(n_components=dim, random_state=seed).fit_transform(emb)
    from sklearn.decomposition import PCA

    return PCA(n_components=dim, random_state=seed).fit_transform(emb)


def cluster_embeddings(reduced: np.ndarray, cfg: TopicConfig, seed: int | None = None) -> tuple[np.ndarray, str]:
    """Topic label per paragraph (-1 = noise) and the method actually used."""
    seed = cfg.seed if seed is None else seed
    n = len(reduced)
    if cfg.clusterer == "hdbscan" and n >= 2 * cfg.min_cluster_size:
        from sklearn.cluster import HDBSCAN

        labels = HDBSCAN(min_cluster_size=cfg.min_cluster_size, copy=True).fit_predict(reduced)
        if len(set(labels) - {-1}) >= 2:
            return labels.astype(int), "hdbscan"
        log.info("HDBSCAN found fewer than 2 topics; using k-means")
    from sklearn.cluster import KMeans

    k = max(1, min(cfg.n_clusters, n))
    if cfg.clusterer == "hdbscan":  # fallback: about one topic per min_cluster_size paragraphs
        k = max(2, min(k, n // max(cfg.min_cluster_size, 1)))
        k = min(k, n)
    return KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(reduced).astype(int), "kmeans"


# ------------------------------------------------------------------------------------------
# The model
# ------------------------------------------------------------------------------------------


@dataclass
class Topic:
    """One topic: its c-TF-IDF words (with weights), size and a readable label."""

    id: int
    words: list[tuple[str, float]]
    size: int
    n_docs: int = 0

    @property
    def label(self) -> str:
        return f"{self.id}_" + "_".join(w for w, _ in self.words[:3])

    def top_words(self, n: int = 10) -> list[str]:
        return [w for w, _ in self.words[:n]]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "size": self.size, "n_docs": self.n_docs,
                "words": [[w, round(s, 6)] for w, s in self.words]}


@dataclass
class TopicModel:
    """A fitted BERT topic model: topics, their centroids in embedding space, and how to describe texts."""

    config: TopicConfig
    topics: list[Topic]
    centroids: np.ndarray  # (n_topics, dim), L2-normalised, row i <-> topics[i]
    encoder_path: str
    info: dict[str, Any] = field(default_factory=dict)
    documents: list[dict[str, Any]] = field(default_factory=list)  # fitted docs: id, topic, topics
    map_xy: np.ndarray | None = None  # 2-D coordinates of the fitted paragraphs
    map_labels: np.ndarray | None = None
    _encoder: Encoder | None = field(default=None, repr=False)

    # ---- fitting ----------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        config: TopicConfig | None = None,
        doc_ids: Sequence[str] | None = None,
        progress: bool = False,
        encoder: Encoder | None = None,
    ) -> TopicModel:
        """Fit topics on a collection of postings (see the module docstring for the steps)."""
        cfg = config or TopicConfig()
        t0 = time.perf_counter()
        texts = list(texts)
        if len(texts) < 2:
            raise ValueError("topic modelling needs at least two non-empty texts")
        doc_ids = [str(d) for d in doc_ids] if doc_ids is not None else [str(i) for i in range(len(texts))]
        if len(doc_ids) != len(texts):
            raise ValueError("doc_ids and texts must have the same length")
        paras, para_doc = paragraphs_of(texts, cfg)
        if len(paras) < 2:
            raise ValueError("topic modelling needs at least two non-empty texts")
        enc = encoder or Encoder(cfg.encoder, cfg.device, max_length=None, batch_size=cfg.batch_size)
        emb = enc.encode(paras, progress=progress)
        t_embed = time.perf_counter() - t0
        model = cls.fit_embeddings(paras, para_doc, emb, cfg, doc_ids=doc_ids, encoder_path=enc.path)
        model._encoder = enc
        model.info.update({"n_docs": len(texts), "embed_seconds": round(t_embed, 2),
                           "seconds": round(time.perf_counter() - t0, 2)})
        return model

    @classmethod
    def fit_embeddings(
        cls,
        paragraphs: Sequence[str],
        para_doc: Sequence[int],
        emb: np.ndarray,
        cfg: TopicConfig,
        doc_ids: Sequence[str] | None = None,
        encoder_path: str = "",
        seed: int | None = None,
        reduced: np.ndarray | None = None,
    ) -> TopicModel:
        """Fit from paragraph embeddings already computed (lets the benchmark reuse them across runs).

        ``reduced`` (the same rows reduced by ``reduce_embeddings``) skips the reduction step, so
        two clusterers can be compared on one reduction."""
        from sklearn.feature_extraction.text import CountVectorizer

        from common.topics.ctfidf import class_counts, ctfidf, top_words

        t0 = time.perf_counter()
        para_doc = np.asarray(para_doc)
        if reduced is None:
            reduced = reduce_embeddings(emb, cfg, seed)
        labels, method = cluster_embeddings(reduced, cfg, seed)
        classes = sorted(set(labels.tolist()) - {-1})
        min_df = cfg.min_df if len(paragraphs) >= 10 * cfg.min_df else 1
        vec = CountVectorizer(stop_words="english", token_pattern=TOKEN_PATTERN, min_df=min_df, lowercase=True)
        dt = vec.fit_transform([clean_text(p) for p in paragraphs])
        words = top_words(ctfidf(class_counts(dt, labels, classes)), vec.get_feature_names_out().tolist(),
                          cfg.store_words)
        n_docs_of = {c: len(set(para_doc[labels == c].tolist())) for c in classes}
        topics = [Topic(id=i, words=w, size=int((labels == c).sum()), n_docs=n_docs_of[c])
                  for i, (c, w) in enumerate(zip(classes, words, strict=True))]
        remap = {c: i for i, c in enumerate(classes)}
        ids = np.array([remap.get(int(lab), -1) for lab in labels])
        centroids = _normalise(np.stack([emb[ids == i].mean(axis=0) for i in range(len(topics))])) if topics \
            else np.zeros((0, emb.shape[1]), dtype=np.float32)
        n_docs = int(para_doc.max()) + 1 if len(para_doc) else 0
        doc_ids = list(doc_ids) if doc_ids is not None else [str(i) for i in range(n_docs)]
        documents = []
        for d in range(n_docs):
            counts = Counter(int(x) for x in ids[para_doc == d] if x >= 0)
            total = sum(counts.values())
            documents.append({"doc_id": doc_ids[d], "topic": counts.most_common(1)[0][0] if counts else -1,
                              "topics": {str(k): round(v / total, 4) for k, v in counts.most_common()}})
        xy = reduced[:, :2] if reduced.shape[1] == 2 else _pca2(reduced)
        info = {"format_version": FORMAT_VERSION, "n_paragraphs": len(paragraphs), "n_topics": len(topics),
                "noise_share": round(float((ids < 0).mean()), 4), "clusterer": method,
                "cluster_seconds": round(time.perf_counter() - t0, 2), "fitted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                               time.gmtime())}
        return cls(config=cfg, topics=topics, centroids=centroids.astype(np.float32), encoder_path=encoder_path,
                   info=info, documents=documents, map_xy=np.asarray(xy, dtype=np.float32), map_labels=ids)

    # ---- using ------------------------------------------------------------------------------
    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = Encoder(self.encoder_path or self.config.encoder, self.config.device,
                                    max_length=None, batch_size=self.config.batch_size)
        return self._encoder

    def topic_scores(self, texts: Sequence[str]) -> np.ndarray:
        """Cosine similarity of each text's mean paragraph embedding to each topic centroid."""
        paras, para_doc = paragraphs_of(texts, self.config)
        out = np.zeros((len(texts), len(self.topics)), dtype=np.float32)
        if not paras or not self.topics:
            return out
        emb = self.encoder.encode(paras)
        if emb.shape[1] != self.centroids.shape[1]:
            raise ValueError(f"encoder gives {emb.shape[1]}-d embeddings but the topic model has "
                             f"{self.centroids.shape[1]}-d centroids; use the encoder it was fitted with")
        para_doc = np.asarray(para_doc)
        for d in range(len(texts)):
            rows = emb[para_doc == d]
            if len(rows):
                out[d] = _normalise(rows.mean(axis=0)) @ self.centroids.T
        return out

    def describe(self, texts: list[str], keywords: list[list[Keyword]] | None = None) -> list[dict[str, Any]]:
        """Per text: its nearest topics (id, label, words, score), tags, and an extractive summary.

        Tags are the text's own keywords (when ``keywords`` from the tagger are given), most
        frequent first, then its top topic's words that occur in it. The summary is the
        sentences carrying most of those keywords (topic words when no keywords are given).
        """
        from common.topics.summarize import extractive_summary

        if keywords is not None and len(keywords) != len(texts):
            raise ValueError("keywords must have one list per text")
        scores = self.topic_scores(texts)
        out = []
        for i, text in enumerate(texts):
            kws = keywords[i] if keywords is not None else None
            if not text.strip():
                out.append({"topics": [], "tags": [], "summary": []})
                continue
            order = np.argsort(-scores[i], kind="stable")[: self.config.top_k_topics] if self.topics else []
            topics = [{"id": self.topics[j].id, "label": self.topics[j].label,
                       "words": self.topics[j].top_words(self.config.n_words), "score": round(float(scores[i, j]), 4)}
                      for j in order]
            present = _words_in(text, self.topics[order[0]].top_words(self.config.store_words)) if len(order) else []
            tags = _tags(kws or [], present, self.config.n_tags)
            summary = extractive_summary(text, keywords=kws or None, words=None if kws else present,
                                         max_sentences=self.config.summary_sentences)
            out.append({"topics": topics, "tags": tags, "summary": summary})
        return out

    def topic_info(self) -> list[dict[str, Any]]:
        """One row per topic: id, label, size (paragraphs), documents, top words."""
        return [{"id": t.id, "label": t.label, "size": t.size, "n_docs": t.n_docs,
                 "words": t.top_words(self.config.n_words)} for t in self.topics]

    def top_words(self, n: int | None = None) -> list[list[str]]:
        return [t.top_words(n or self.config.n_words) for t in self.topics]

    # ---- persistence ------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the model folder (and the topic map plot when map data is present)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        meta = {"format_version": FORMAT_VERSION, "config": self.config.model_dump(),
                "encoder_path": self.encoder_path, "info": self.info, "topics": [t.as_dict() for t in self.topics]}
        (path / MODEL_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        np.save(path / "centroids.npy", self.centroids)
        (path / "documents.json").write_text(json.dumps(self.documents), encoding="utf-8")
        if self.map_xy is not None and self.map_labels is not None:
            np.savez_compressed(path / "map.npz", xy=self.map_xy, labels=self.map_labels)
            if self.config.plot:
                plot_topic_map(self, path / "topic_map.png")
        return path

    @classmethod
    def load(cls, path: str | Path) -> TopicModel:
        path = Path(path)
        f = path / MODEL_FILE
        if not f.exists():
            raise FileNotFoundError(f"no topic model at {path} (missing {MODEL_FILE}); fit one with `jobskills topics fit`")
        meta = json.loads(f.read_text(encoding="utf-8"))
        topics = [Topic(id=t["id"], words=[(w, float(s)) for w, s in t["words"]], size=t["size"],
                        n_docs=t.get("n_docs", 0)) for t in meta["topics"]]
        docs_f = path / "documents.json"
        xy = labels = None
        if (path / "map.npz").exists():
            with np.load(path / "map.npz") as z:
                xy, labels = z["xy"], z["labels"]
        return cls(config=TopicConfig.model_validate(meta["config"]), topics=topics,
                   centroids=np.load(path / "centroids.npy"), encoder_path=meta.get("encoder_path", ""),
                   info=meta.get("info", {}),
                   documents=json.loads(docs_f.read_text(encoding="utf-8")) if docs_f.exists() else [],
                   map_xy=xy, map_labels=labels)


def paragraphs_of(texts: Sequence[str], cfg: TopicConfig) -> tuple[list[str], list[int]]:
    """All paragraphs of ``texts`` and the index of the text each came from."""
    paras: list[str] = []
    para_doc: list[int] = []
    for d, text in enumerate(texts):
        for p in split_paragraphs(text or "", cfg.max_paragraph_words, cfg.min_paragraph_words):
            paras.append(p)
            para_doc.append(d)
    return paras, para_doc


def _pca2(x: np.ndarray) -> np.ndarray:
    if x.shape[1] <= 2 or len(x) < 3:
        return np.pad(x[:, :2], ((0, 0), (0, max(0, 2 - x.shape[1]))))
    from sklearn.decomposition import PCA

    return PCA(n_components=2, random_state=0).fit_transform(x)


def _words_in(text: str, words: Sequence[str]) -> list[str]:
    low = text.lower()
    return [w for w in words if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", low)]


def _tags(keywords: Sequence[Keyword], topic_words: Sequence[str], n: int) -> list[str]:
    """Keyword texts (most frequent first, then first seen), then topic words, without repeats."""
    from common.text.spans import normalise_keyword

    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    for k in keywords:
        norm = normalise_keyword(k.text)
        if norm:
            counts[norm] += 1
            first.setdefault(norm, k.start)
    tags = sorted(counts, key=lambda t: (-counts[t], first[t]))
    for w in topic_words:
        if w not in tags:
            tags.append(w)
    return tags[:n]


def plot_topic_map(model: TopicModel, out_path: str | Path, max_labels: int = 30) -> Path:
    """Scatter plot of the fitted paragraphs in 2-D, coloured by topic; the ``max_labels`` largest
    topics are labelled with their top words (more labels would hide each other)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    out_path = Path(out_path)
    xy, labels = model.map_xy, model.map_labels
    if xy is None or labels is None:
        raise ValueError("this topic model has no map data to plot")
    fig, ax = plt.subplots(figsize=(9, 7), dpi=110)
    noise = labels < 0
    size = float(np.clip(3000 / max(len(labels), 1), 2, 30))
    ax.scatter(xy[noise, 0], xy[noise, 1], s=size, c="lightgrey", label="noise")
    cmap = plt.get_cmap("tab10" if len(model.topics) <= 10 else "tab20")
    labelled = {t.id for t in sorted(model.topics, key=lambda t: -t.size)[:max_labels]}
    for t in model.topics:
        m = labels == t.id
        if not m.any():
            continue
        ax.scatter(xy[m, 0], xy[m, 1], s=size, color=cmap(t.id % cmap.N))
        if t.id not in labelled:
            continue
        cx, cy = np.median(xy[m], axis=0)
        ax.annotate(f"{t.id}: " + ", ".join(t.top_words(3)), (cx, cy), fontsize=7, ha="center",
                    bbox={"boxstyle": "round", "fc": "white", "alpha": 0.7, "lw": 0})
    shown = "" if len(model.topics) <= max_labels else f" ({max_labels} largest labelled)"
    ax.set_title(f"Topic map: {len(model.topics)} topics over {len(labels)} paragraphs{shown}")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path)
    plt.close(fig)
    return out_path


def default_model_path() -> Path:
    """Where the current topic model lives: ``<models_dir>/topics/latest``."""
    from common.core.artifacts import latest_dir

    return latest_dir("topics")


def load_topic_model(path: str | Path | None = None) -> TopicModel:
    """Load a saved topic model (default: ``default_model_path()``)."""
    return TopicModel.load(path or default_model_path())


def fit_topics(
    texts: Sequence[str],
    config: TopicConfig | None = None,
    doc_ids: Sequence[str] | None = None,
    out_dir: str | Path | None = None,
    make_latest: bool = True,
    progress: bool = False,
) -> tuple[TopicModel, Path]:
    """Fit, save under ``out_dir`` (default ``<models_dir>/topics/<UTC stamp>``) and update ``latest``."""
    model = TopicModel.fit(texts, config, doc_ids=doc_ids, progress=progress)
    root = default_model_path().parent
    run_dir = Path(out_dir) if out_dir else root / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    model.save(run_dir)
    if make_latest:
        publish_latest(run_dir, root / "latest")
    return model, run_dir


