"""jobskills library: job descriptions to keywords, skills to competency groups.

The library never imports Prefect or BentoML; ``flows/`` and ``services/`` wire it up.
Nothing runs at import time.
"""

__version__ = "0.1.0"
