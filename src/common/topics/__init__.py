"""Topics over postings: embedding clusters with c-TF-IDF words, LDA, metrics, summaries and insights."""

from common.core.exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "TopicConfig": "config",
    "TopicModel": "model",
    "fit_topics": "model",
    "load_topic_model": "model",
    "default_model_path": "model",
    "fit_ctfidf": "ctfidf",
    "LDAConfig": "lda",
    "fit_lda": "lda",
    "npmi_coherence": "metrics",
    "topic_diversity": "metrics",
    "extractive_summary": "summarize",
    "resume_insights": "insights",
})
