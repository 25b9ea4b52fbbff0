"""Prefect flows: thin wrappers that schedule ``common`` library steps as tasks.

Nothing runs at import. Task runner choice (threads by default, Dask when
``JOBSKILLS_TASK_RUNNER=dask``) lives in ``flows.runners``.
"""
