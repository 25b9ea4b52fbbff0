"""Batch extraction settings (``jobskills extract-batch``, the ``batch_extract`` flow)."""

from __future__ import annotations

from pydantic import Field

from common.core.config import StageConfig


class BatchConfig(StageConfig):
    """How postings are fed to the models and written."""

    part_size: int = Field(256, ge=1, description="Postings per output part: the most a crash can lose, and the "
                           "batch the models see at once (the tagger sorts its windows by length across it).")
    links: bool = Field(True, description="Link each keyword to its ESCO skill (needs a linker).")
    skills: bool = Field(False, description="The posting's ESCO skills, named by a keyword or implied by a "
                         "sentence (common.linking.skills), one row each in skills/ parts (needs a linker). Off by "
                         "default: encoding every sentence cut a run from 3,652 to 1,021 words/s (docs/batch.md).")
    groups: bool = Field(True, description="Competency group codes per keyword (needs a group model).")
    occupations: bool = Field(True, description="The posting's ESCO occupation and each keyword's importance "
                              "(needs an occupation model).")
    level: int = Field(2, ge=1, le=2, description="Group level of the group codes.")
    max_chars: int | None = Field(None, ge=1, description="Longest posting accepted; null: settings.max_text_chars.")
    threads: int | None = Field(None, ge=1, description="Torch threads per process; null: torch's default.")
    device: str | None = None
