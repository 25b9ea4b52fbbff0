"""jobskills: the distribution's own package (the ``jobskills`` CLI and the BentoML model store).

The library is ``common`` (no Prefect, no BentoML); this package holds what people and services
start: ``jobskills.cli`` (the typer app behind the ``jobskills`` command) and ``jobskills.stores``
(the BentoML implementation of the registry's store protocol).
"""

from common import __version__

__all__ = ["__version__"]
