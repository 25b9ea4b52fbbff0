"""Occupations: which ESCO occupation a posting describes (from its title and linked skills), and
which of its skills are essential for it (ESCO's lookup, and a core/fringe classifier for roles
ESCO lacks). A layer above ``common.linking``: it takes the skill URIs the linker found."""

from common.core.exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "OccupationConfig": "config",
    "OccupationTaxonomy": "taxonomy",
    "load_occupations": "taxonomy",
    "occupations_frame": "taxonomy",
    "split_of": "taxonomy",
    "PseudoPosting": "pseudo",
    "pseudo_postings": "pseudo",
    "OccupationRanker": "ranker",
    "OccupationMatch": "ranker",
    "title_of": "ranker",
    "OccupationModel": "model",
    "OccupationResult": "model",
    "RoleSkill": "model",
    "build_occupation_model": "training",
    "evaluate_ranker": "evaluate",
})
