"""The gRPC contract without a server: the generated code is current, the messages mirror the REST
schemas field for field, and HTTP answers map onto gRPC status codes (never UNKNOWN)."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from jobskills.v1 import jobskills_pb2 as pb
from services import schemas
from services.rpc.convert import error_message, grpc_code, response_message, rest_body

PROTO = Path(pb.__file__).with_name("jobskills.proto")


def test_generated_code_is_built_from_the_proto_as_it_is_now(tmp_path):
    """Editing jobskills.proto without reinstalling would serve a stale contract."""
    from google.protobuf import descriptor_pb2
    from grpc_tools import protoc

    src = PROTO.parents[2]  # src/: the proto's import path is jobskills/v1/jobskills.proto
    out = tmp_path / "set.pb"
    assert protoc.main(["protoc", f"-I{src}", f"--descriptor_set_out={out}", str(PROTO)]) == 0
    fresh = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file[0]
    for message in fresh.message_type:  # protoc records json_name; the embedded descriptor leaves it out
        for field in message.field:
            field.ClearField("json_name")
    installed = descriptor_pb2.FileDescriptorProto.FromString(pb.DESCRIPTOR.serialized_pb)
    assert fresh == installed, "src/jobskills/v1/jobskills_pb2.py is stale: run pip install -e ."
    assert pb.DESCRIPTOR.package == "jobskills.v1"


def test_the_service_has_every_rpc_of_the_issue():
    service = pb.DESCRIPTOR.services_by_name["JobSkills"]
    methods = {m.name: m for m in service.methods}
    assert set(methods) == {"Extract", "ExtractBatch", "ExtractStream", "Classify", "Link", "Analyze"}
    assert methods["ExtractStream"].server_streaming and not methods["ExtractStream"].client_streaming
    assert not any(m.server_streaming for n, m in methods.items() if n != "ExtractStream")


MIRRORS = [  # (REST pydantic model, proto message)
    (schemas.ExtractRequest, pb.ExtractRequest),
    (schemas.ExtractBatchRequest, pb.ExtractBatchRequest),
    (schemas.ClassifyRequest, pb.ClassifyRequest),
    (schemas.LinkRequest, pb.LinkRequest),
    (schemas.AnalyzeRequest, pb.AnalyzeRequest),
    (schemas.LinkedKeyword, pb.Keyword),
    (schemas.EscoLink, pb.EscoLink),
    (schemas.ModelDescription, pb.ModelDescription),
    (schemas.ExtractResponse, pb.ExtractResponse),
    (schemas.ExtractBatchResponse, pb.ExtractBatchResponse),
    (schemas.GroupOut, pb.Group),
    (schemas.RankedGroupOut, pb.RankedGroup),
    (schemas.SkillGroups, pb.SkillGroups),
    (schemas.ClassifyResponse, pb.ClassifyResponse),
    (schemas.LinkResultOut, pb.LinkResult),
    (schemas.LinkResponse, pb.LinkResponse),
    (schemas.AnalyzedKeyword, pb.AnalyzedKeyword),
    (schemas.AnalyzeResponse, pb.AnalyzeResponse),
    (schemas.OccupationOut, pb.Occupation),
]


@pytest.mark.parametrize("model,message", MIRRORS, ids=[m.__name__ for m, _ in MIRRORS])
def test_messages_mirror_the_rest_schemas_field_for_field(model, message):
    assert set(model.model_fields) == set(message.DESCRIPTOR.fields_by_name)
    for name, info in model.model_fields.items():
        field = message.DESCRIPTOR.fields_by_name[name]
        annotation = str(info.annotation)
        assert field.is_repeated == ("list[" in annotation), name
        if not field.is_repeated and "None" in annotation:  # REST may answer null
            assert field.has_presence, f"{message.DESCRIPTOR.name}.{name} is nullable in REST: make it optional"


def test_every_http_error_maps_to_a_grpc_code_that_is_not_unknown():
    codes = {status: grpc_code(status) for status in range(400, 600)}
    assert not [s for s, c in codes.items() if c in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.OK)]


def test_status_classes():
    assert grpc_code(400) == grpc.StatusCode.INVALID_ARGUMENT
    assert grpc_code(401) == grpc.StatusCode.UNAUTHENTICATED
    assert grpc_code(413) == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert grpc_code(503) == grpc.StatusCode.UNAVAILABLE
    assert grpc_code(504) == grpc.StatusCode.DEADLINE_EXCEEDED
    assert grpc_code(500) == grpc.StatusCode.INTERNAL


def test_error_message_takes_the_field_reasons_of_a_validation_error():
    body = {"error": "1 validation error for ExtractRequestIODescriptor",
            "detail": [{"type": "value_error", "loc": ["texts", 1], "msg": "Value error, text is empty"}]}
    assert error_message(400, body) == "texts.1: text is empty"
    assert error_message(503, {"error": "the keywords model is not available: none"}).startswith("the keywords")
    assert error_message(502, "<html>") == "the HTTP API answered 502"


def test_rest_body_sends_what_rest_needs_to_judge_it():
    assert rest_body("Extract", pb.ExtractRequest()) == {"text": ""}  # -> "text is empty", not "Field required"
    assert rest_body("Classify", pb.ClassifyRequest(skills=["sql"])) == {"skills": ["sql"]}  # REST defaults
    assert rest_body("Classify", pb.ClassifyRequest(skills=["sql"], level=1, top_k=0)) == {
        "skills": ["sql"], "level": 1, "top_k": 0}  # an explicit 0 reaches REST and is refused there
    assert rest_body("Link", pb.LinkRequest(skills=["a", "b"], context=["s", ""])) == {
        "skills": ["a", "b"], "context": ["s", None]}
    assert "context" not in rest_body("Link", pb.LinkRequest(skills=["a"]))


def test_response_message_keeps_nulls_unset_and_nests_batches():
    kw = {"start": 0, "end": 6, "text": "Python", "type": "Knowledge", "score": 0.5, "esco": None}
    msg = response_message("ExtractBatch", {"results": [[kw], []], "model_tag": None, "model": None},
                           pb.ExtractBatchResponse())
    assert [len(r.keywords) for r in msg.results] == [1, 0]
    assert not msg.HasField("model_tag") and not msg.HasField("model")
    assert not msg.results[0].keywords[0].HasField("esco")
