"""Text utilities shared by every model: spans and BIO tags, word splitting, the sentence encoder
and its self-supervised adaptation (Mirror-BERT)."""

from common.core.exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "bio_to_spans": "spans",
    "spans_to_bio": "spans",
    "repair_bio": "spans",
    "is_valid_bio": "spans",
    "whitespace_tokens": "spans",
    "blank_control_chars": "spans",
    "posting_text": "spans",
    "gold_keywords": "spans",
    "normalise_keyword": "spans",
    "token_spans_to_char": "spans",
    "char_spans_to_tokens": "spans",
    "posting_token_offsets": "spans",
    "split_words": "words",
    "word_tokens": "words",
    "rejoin_tokens": "words",
    "raw_posting_text": "spans",
    "Encoder": "embeddings",
    "embed_texts": "embeddings",
    "mean_pool": "embeddings",
    "MirrorConfig": "mirror_bert",
    "train_mirror_bert": "mirror_bert",
})
