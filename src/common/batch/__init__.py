"""Batch extraction: a corpus of postings in, keyword and posting rows out as Parquet parts that
a rerun resumes from, bad rows quarantined with their reason (library only: the ``batch_extract``
flow and ``jobskills extract-batch`` wire it)."""

from common.core.exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "BatchConfig": "config",
    "Posting": "inputs",
    "BadRow": "inputs",
    "read_postings": "inputs",
    "count_rows": "inputs",
    "ModelPaths": "models",
    "BatchModels": "models",
    "default_paths": "models",
    "load_models": "models",
    "cached_models": "models",
    "done_state": "output",
    "read_output": "output",
    "reset": "output",
    "PartWriter": "output",
    "BatchSummary": "extract",
    "extract_part": "extract",
    "run_batch": "extract",
})
