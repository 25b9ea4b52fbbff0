"""Linking keywords to ESCO skills: the taxonomy's names, the linker (dense + lexical candidates,
context rerank, abstention), a posting's ESCO skills (span links fused with sentence-level
retrieval), their evaluation on span and sentence annotations, and groups that follow the link."""

from common.core.exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "Taxonomy": "taxonomy",
    "load_taxonomy": "taxonomy",
    "taxonomy_frame": "taxonomy",
    "TAXONOMY_VERSION": "taxonomy",
    "LinkerConfig": "linker",
    "ESCOLinker": "linker",
    "LinkMatch": "linker",
    "LinkResult": "linker",
    "build_linker": "linker",
    "evaluate_linker": "evaluate",
    "load_validation": "evaluate",
    "choose_threshold": "evaluate",
    "posting_skills": "skills",
    "link_posting": "skills",
    "PostingLinks": "skills",
    "PostingSkill": "skills",
    "SkillRankConfig": "skills",
    "linked_groups": "groups",
    "LinkedGroups": "groups",
})
