"""BentoML services: keyword extraction, skill groups, and the HTTP API that composes them.

``services.api:ApiService`` is the entry point (``bentoml serve services.api:ApiService`` or
``jobskills serve``); it depends on ``services.keywords:KeywordService`` and
``services.groups:GroupService``, each a separate process with adaptive batching. The model
logic lives in ``common``; these modules only wire it to HTTP.
"""
