"""Data in and out: records and their store, scraping, text extraction, ingest, validation, request logs, and the SkillSpan, ESCO and built-in sample loaders."""

from common.core.exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "PostingRecord": "records",
    "LabelRecord": "records",
    "MergedLabelRecord": "records",
    "QuarantineRecord": "records",
    "RawPage": "records",
    "RunRecord": "records",
    "content_hash": "records",
    "Store": "storage",
    "StorageError": "storage",
    "ScrapeConfig": "scrape",
    "Fetcher": "scrape",
    "ExtractConfig": "extract",
    "extract_posting": "extract",
    "IngestConfig": "ingest",
    "Batch": "ingest",
    "read_folder": "ingest",
    "validate_batch": "validation",
    "ValidationOutcome": "validation",
    "BlockingValidationError": "validation",
    "log_request": "request_log",
    "log_feedback": "request_log",
    "iter_jsonl": "request_log",
    "load_skillspan": "skillspan",
    "DataMissingError": "skillspan",
    "load_skills": "esco",
    "load_groups": "esco",
    "SAMPLE_DIR": "sample",
})
