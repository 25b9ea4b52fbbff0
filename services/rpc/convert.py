"""Between the gRPC messages (``jobskills.v1``) and the HTTP API's JSON bodies, and HTTP status to
gRPC status.

The messages mirror the REST schemas field for field, so protobuf's own JSON mapping
(``json_format``) does the work; what is left is where the two cannot match: proto3 has no list of
lists (``ExtractBatchResponse.results`` holds ``KeywordList``s) and no null inside a repeated
string (an empty ``LinkRequest.context`` entry means "no sentence for this skill").
"""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message

# the REST endpoint behind each unary RPC
UNARY_ENDPOINTS = {
    "Extract": "/extract",
    "ExtractBatch": "/extract_batch",
    "Classify": "/classify",
    "Link": "/link",
    "Analyze": "/analyze",
}

# HTTP status of the API -> gRPC status (https://grpc.github.io/grpc/core/md_doc_statuscodes.html)
STATUS_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.UNIMPLEMENTED,  # an API older than this contract
    408: grpc.StatusCode.DEADLINE_EXCEEDED,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    422: grpc.StatusCode.INVALID_ARGUMENT,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}


def grpc_code(http_status: int) -> grpc.StatusCode:
    """The gRPC status for an HTTP error answer; anything unmapped is INTERNAL, never UNKNOWN."""
    return STATUS_CODES.get(http_status, grpc.StatusCode.INTERNAL)


def error_message(http_status: int, body: Any) -> str:
    """The API's own sentence: for a validation error each field's reason (``text: text is empty``,
    from pydantic's ``detail`` list that BentoML sends beside its summary), else ``error``, else the
    status."""
    if not isinstance(body, dict):
        return f"the HTTP API answered {http_status}"
    detail = body.get("detail")
    if isinstance(detail, list) and detail:
        reasons = []
        for d in detail:
            if not isinstance(d, dict):
                continue
            msg = str(d.get("msg", "")).removeprefix("Value error, ")
            loc = ".".join(str(x) for x in d.get("loc") or ())
            reasons.append(f"{loc}: {msg}" if loc else msg)
        if reasons:
            return "; ".join(reasons)
    if isinstance(body.get("error"), str) and body["error"]:
        return body["error"]
    return f"the HTTP API answered {http_status}"


def rest_body(rpc: str, request: Message) -> dict[str, Any]:
    """The JSON body of the REST call for ``request``.

    Fields without presence are always sent (an empty ``text`` gets REST's "text is empty", an
    empty list "the list is empty"); unset ``optional`` fields are left out, so REST's defaults
    apply.
    """
    body = json_format.MessageToDict(request, preserving_proto_field_name=True,
                                     always_print_fields_with_no_presence=True)
    if rpc == "Link":
        context = body.pop("context", [])
        if context:
            body["context"] = [c or None for c in context]
    return body


def response_message(rpc: str, body: dict[str, Any], message: Message) -> Message:
    """``message`` filled from the REST answer ``body`` (nulls leave fields unset)."""
    if rpc == "ExtractBatch":
        body = {**body, "results": [{"keywords": kws} for kws in body.get("results", [])],
                "occupations": [{"occupations": occ} for occ in body.get("occupations") or []],
                "skills": [{"skills": sk} for sk in body.get("skills") or []]}
    return json_format.ParseDict(body, message, ignore_unknown_fields=True)
