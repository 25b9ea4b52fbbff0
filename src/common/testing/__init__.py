"""Fixtures that are not product code: a demo job site, a crowd simulator, the sample builder."""

from common.core.exports import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "build_site": "testsite",
    "serve": "testsite",
    "CrowdSimConfig": "crowd_sim",
    "simulate_span_crowd": "crowd_sim",
    "simulate_group_crowd": "crowd_sim",
    "build_sample": "sample_build",
})
