"""What a topic model is fitted with: reduction, clustering, words kept (``configs/topics.yaml``, section ``topics``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from common.core.config import StageConfig


class TopicConfig(StageConfig):
    """Settings of the BERT topic pipeline (YAML-loadable, see ``configs/topics.yaml``)."""

    yaml_section = "topics"

    encoder: str | None = Field(None, description="Encoder folder; default settings.encoder_path.")
    device: str | None = None
    batch_size: int = 32
    max_paragraph_words: int = Field(120, description="Longer paragraphs are cut to stay under the encoder limit.")
    min_paragraph_words: int = Field(3, description="Shorter paragraphs are merged into the previous one.")
    reducer: Literal["umap", "pca", "svd", "none"] = "umap"
    n_components: int = 5
    n_neighbors: int = 15
    clusterer: Literal["hdbscan", "kmeans"] = "hdbscan"
    min_cluster_size: int = 10
    n_clusters: int = Field(20, description="k for k-means (and the fallback when HDBSCAN finds < 2 clusters).")
    n_words: int = Field(10, description="Top words kept per topic for labels and metrics.")
    store_words: int = 30
    min_df: int = 2
    top_k_topics: int = 3
    n_tags: int = 10
    summary_sentences: int = 3
    seed: int = 13
    plot: bool = True
