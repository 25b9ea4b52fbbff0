"""The gRPC API (``jobskills.v1``) on 127.0.0.1, called with the generated Python client.

Two gRPC servers, started the way users start them:

- ``rpc``: ``jobskills serve --port P --grpc-port G`` (HTTP API + gRPC front together) on the
  tiny champions, with ``JOBSKILLS_API_KEY_SCOPE=all`` (every call needs the key, as metadata)
  and a linker folder that holds no linker, so ``Link`` meets a missing model;
- ``relay``: ``jobskills serve-grpc --rest-url <the session's server>`` beside the shared server of
  ``conftest`` (tagger, group model and linker), for ``Link`` and ESCO links against REST.

REST answers are compared with gRPC answers as dicts: a REST field the proto lacks, or a value
that differs, fails the comparison.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc
from procs import free_port, stop_group

from common.data.request_log import iter_jsonl
from jobskills.v1 import jobskills_pb2 as pb
from jobskills.v1 import jobskills_pb2_grpc as rpc_pb

REPO = Path(__file__).resolve().parents[2]
JOBSKILLS = str(Path(sys.executable).with_name("jobskills"))
POSTING = ("We are looking for a data engineer with experience in python and sql.\n"
           "Strong communication skills and project management knowledge are a plus.")
TEXTS = [POSTING, "Knowledge of python, sql and machine learning; teamwork.", "communication and sql"]
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _health(channel: grpc.Channel, service: str = "") -> Any:
    try:
        return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service),
                                                         timeout=2).status
    except grpc.RpcError as exc:
        return exc.code()


def _readyz(url: str) -> int | None:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code
    except httpx.HTTPError:
        return None


def _start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    with log.open("w") as fh:
        return subprocess.Popen([JOBSKILLS, *args], env=env, cwd=log.parent, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _wait_serving(proc, channel, url, log: Path, timeout: float = 240) -> list[tuple[Any, int | None]]:
    """Poll gRPC health and REST /readyz together until health says SERVING; the samples seen."""
    samples: list[tuple[Any, int | None]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}:\n{log.read_text()[-5000:]}")
        samples.append((_health(channel), _readyz(url)))
        if samples[-1][0] == SERVING:
            return samples
        time.sleep(0.2)
    raise RuntimeError(f"gRPC health not SERVING after {timeout:.0f} s:\n{log.read_text()[-5000:]}")


@pytest.fixture(scope="module")
def rpc(serving_env, serving_root, tiny_models, server):
    """``jobskills serve --grpc-port`` with every endpoint behind the API key and no linker.

    Started after the session's server (``server``): both share one BENTOML_HOME, whose
    prometheus_multiproc_dir a starting server clears, so the later one keeps its counters.
    """
    port, grpc_port = free_port(), free_port()
    no_linker = serving_root / "no-linker"
    no_linker.mkdir(exist_ok=True)
    env = {**serving_env, "JOBSKILLS_API_KEY_SCOPE": "all", "JOBSKILLS_SERVE_GRPC_HEALTH_INTERVAL_S": "0.5"}
    log = serving_root / "grpc-serve.log"
    proc = _start(["serve", "--port", str(port), "--grpc-port", str(grpc_port), "--linker-model-dir",
                   str(no_linker)], env, log)
    url = f"http://127.0.0.1:{port}"
    channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
    try:
        samples = _wait_serving(proc, channel, url, log)
        key = serving_env["JOBSKILLS_API_KEY"]
        yield SimpleNamespace(proc=proc, channel=channel, stub=rpc_pb.JobSkillsStub(channel), url=url,
                              samples=samples, log=log, key=(("x-api-key", key),),
                              http=httpx.Client(base_url=url, timeout=60, headers={"X-API-Key": key}))
    finally:
        channel.close()
        stop_group(proc)


@pytest.fixture(scope="module")
def relay(serving_env, serving_root, server):
    """``jobskills serve-grpc`` beside the session's HTTP server (which has a linker)."""
    grpc_port = free_port()
    log = serving_root / "grpc-relay.log"
    proc = _start(["serve-grpc", "--port", str(grpc_port), "--rest-url", server],
                  {**serving_env, "JOBSKILLS_SERVE_GRPC_HEALTH_INTERVAL_S": "0.5"}, log)
    channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
    try:
        _wait_serving(proc, channel, server, log, timeout=60)
        yield rpc_pb.JobSkillsStub(channel)
    finally:
        channel.close()
        stop_group(proc)


def as_dict(message) -> dict:
    return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                     always_print_fields_with_no_presence=True)


def without_nulls(value: Any) -> Any:
    """REST's JSON as protobuf prints it: null fields are unset, so absent."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def _rest(http: httpx.Client, path: str, body: dict) -> dict:
    r = http.post(path, json=body)
    assert r.status_code == 200, r.text
    out = without_nulls(r.json())
    if path in ("/extract", "/analyze"):  # skills: null without a linker; a repeated field is empty instead
        out.setdefault("skills", [])
    return out


# ---- health, reflection ---------------------------------------------------------------------


def test_health_turns_serving_when_the_models_are_ready(rpc):
    statuses = [h for h, _ in rpc.samples]
    assert NOT_SERVING in statuses, f"health never said NOT_SERVING while the models loaded: {rpc.samples}"
    assert statuses.index(NOT_SERVING) < statuses.index(SERVING)
    assert not [s for s in rpc.samples if s[0] == SERVING and s[1] != 200], "SERVING before /readyz said 200"
    assert _health(rpc.channel, "jobskills.v1.JobSkills") == SERVING
    assert _health(rpc.channel, "no.such.Service") == grpc.StatusCode.NOT_FOUND


def test_reflection_describes_the_service(rpc):
    from google.protobuf.descriptor_pool import DescriptorPool
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    db = ProtoReflectionDescriptorDatabase(rpc.channel)
    assert {"jobskills.v1.JobSkills", "grpc.health.v1.Health"} <= set(db.get_services())
    service = DescriptorPool(db).FindServiceByName("jobskills.v1.JobSkills")
    assert {m.name for m in service.methods} == {"Extract", "ExtractBatch", "ExtractStream", "Classify", "Link",
                                                 "Analyze"}


# ---- the same answers as REST ---------------------------------------------------------------


@pytest.mark.parametrize("text", TEXTS, ids=["posting", "list", "short"])
def test_extract_gives_the_same_keywords_as_rest(rpc, text):
    answer = rpc.stub.Extract(pb.ExtractRequest(text=text), metadata=rpc.key, timeout=60)
    rest = _rest(rpc.http, "/extract", {"text": text})
    assert rest["keywords"], "the tiny tagger found nothing: the comparison would prove little"
    assert as_dict(answer) == rest
    for k in answer.keywords:
        assert text[k.start:k.end] == k.text and k.type in ("Skill", "Knowledge")


def test_extract_batch_gives_the_same_keywords_as_rest(rpc):
    answer = rpc.stub.ExtractBatch(pb.ExtractBatchRequest(texts=TEXTS), metadata=rpc.key, timeout=60)
    rest = _rest(rpc.http, "/extract_batch", {"texts": TEXTS})
    assert rest["occupations"], "no occupations: the comparison of that field would prove little"
    assert as_dict(answer) == {**rest, "results": [{"keywords": r} for r in rest["results"]],
                               "occupations": [{"occupations": o} for o in rest["occupations"]],
                               "skills": [{"skills": sk} for sk in rest.get("skills") or []]}


def test_extract_stream_answers_every_posting_by_id_across_batches(rpc):
    texts = [f"{TEXTS[i % 3]} Posting number {i}." for i in range(11)]  # the server's limit is 8 per batch
    postings = [pb.Posting(id=f"job-{i}", text=t) for i, t in enumerate(texts)]
    answers = list(rpc.stub.ExtractStream(pb.ExtractStreamRequest(postings=postings), metadata=rpc.key, timeout=120))
    assert [a.id for a in answers] == [p.id for p in postings] and [a.index for a in answers] == list(range(11))
    first, second = _rest(rpc.http, "/extract_batch", {"texts": texts[:8]}), _rest(rpc.http, "/extract_batch", {"texts": texts[8:]})
    rest = first["results"] + second["results"]
    occupations = first["occupations"] + second["occupations"]
    for a, expected, occ in zip(answers, rest, occupations, strict=True):
        assert as_dict(a)["keywords"] == expected
        assert as_dict(a)["occupations"] == occ
        assert a.model_tag and a.model.tag == a.model_tag


def test_with_skills_false_is_relayed_to_rest(relay, client):
    """``with_skills`` unset keeps REST's default (skills on); false leaves them out, in the unary
    calls and the stream alike (through ``serve-grpc`` beside the server that has a linker)."""
    assert relay.Extract(pb.ExtractRequest(text=POSTING), timeout=60).skills
    lean = relay.Extract(pb.ExtractRequest(text=POSTING, with_skills=False), timeout=60)
    rest = client.post("/extract", json={"text": POSTING, "with_skills": False})
    assert rest.status_code == 200 and as_dict(lean) == {**without_nulls(rest.json()), "skills": []}  # null: none
    assert not lean.skills and any(k.HasField("esco") for k in lean.keywords)
    postings = [pb.Posting(id="a", text=POSTING)]
    (answer,) = list(relay.ExtractStream(pb.ExtractStreamRequest(postings=postings, with_skills=False), timeout=60))
    assert not answer.skills and [k.esco.uri for k in answer.keywords] == [k.esco.uri for k in lean.keywords]
    (full,) = list(relay.ExtractStream(pb.ExtractStreamRequest(postings=postings), timeout=60))
    assert full.skills


def test_classify_gives_the_same_groups_as_rest(rpc):
    skills = ["python", "sql", "communication skills"]
    answer = rpc.stub.Classify(pb.ClassifyRequest(skills=skills, level=2, top_k=3), metadata=rpc.key, timeout=60)
    assert as_dict(answer) == _rest(rpc.http, "/classify", {"skills": skills, "level": 2, "top_k": 3})
    assert [r.skill for r in answer.results] == skills
    assert all(r.groups and len(r.ranked) == 3 for r in answer.results)
    # unset optional fields take REST's defaults (level 2, top_k 5)
    default = rpc.stub.Classify(pb.ClassifyRequest(skills=skills), metadata=rpc.key, timeout=60)
    assert as_dict(default) == _rest(rpc.http, "/classify", {"skills": skills})
    assert all(len(r.ranked) >= 3 for r in default.results)  # top_k 5 (the tiny model may have fewer groups)


def test_analyze_gives_the_same_answer_as_rest(rpc):
    answer = rpc.stub.Analyze(pb.AnalyzeRequest(text=POSTING, level=1, top_k=2), metadata=rpc.key, timeout=60)
    assert as_dict(answer) == _rest(rpc.http, "/analyze", {"text": POSTING, "level": 1, "top_k": 2})
    assert answer.keywords and all(k.groups and k.group_source == "classifier" for k in answer.keywords)


def test_link_and_esco_links_match_rest_through_serve_grpc(relay, client):
    skills = ["python programming", "SQL", "zzqx wvvy"]
    answer = relay.Link(pb.LinkRequest(skills=skills, context=["We code in python.", "", ""], top_k=3), timeout=60)
    rest = client.post("/link", json={"skills": skills, "context": ["We code in python.", None, None], "top_k": 3})
    assert rest.status_code == 200, rest.text
    assert as_dict(answer) == without_nulls(rest.json())
    assert answer.taxonomy and all(1 <= len(r.matches) <= 3 for r in answer.results)
    analyzed = relay.Analyze(pb.AnalyzeRequest(text=POSTING), timeout=60)
    assert as_dict(analyzed) == without_nulls(client.post("/analyze", json={"text": POSTING}).json())
    assert any(k.HasField("esco") for k in analyzed.keywords), "no keyword linked: nothing compared on ESCO"
    assert analyzed.skills and all(s.evidence for s in analyzed.skills)  # the posting's ESCO skills, relayed


# ---- errors ---------------------------------------------------------------------------------

INVALID = grpc.StatusCode.INVALID_ARGUMENT
TOO_BIG = grpc.StatusCode.RESOURCE_EXHAUSTED
# the bad-input classes of test_serving_bad_input that a typed message can carry (wrong JSON types,
# unknown fields, broken JSON and content types cannot be written as a message), with the status
# and the words of REST's sentence
BAD = [
    ("Extract", pb.ExtractRequest(text=""), INVALID, "text is empty"),
    ("Extract", pb.ExtractRequest(text=" \n\t "), INVALID, "text is empty"),
    ("Extract", pb.ExtractRequest(text="x" * 3001), INVALID, "limit is 3000"),
    ("Extract", pb.ExtractRequest(text="y" * 70_000), TOO_BIG, ""),  # over the 64 KiB body limit
    ("ExtractBatch", pb.ExtractBatchRequest(texts=["a b"] * 9), INVALID, "limit is 8"),
    ("ExtractBatch", pb.ExtractBatchRequest(), INVALID, "empty"),
    ("ExtractBatch", pb.ExtractBatchRequest(texts=["ok", ""]), INVALID, "texts.1: text is empty"),
    ("Classify", pb.ClassifyRequest(skills=["python"] * 9), INVALID, "limit is 8"),
    ("Classify", pb.ClassifyRequest(skills=["python"], level=3), INVALID, "level"),
    ("Classify", pb.ClassifyRequest(skills=["python"], top_k=0), INVALID, "top_k"),
    ("Classify", pb.ClassifyRequest(skills=[""]), INVALID, "skill is empty"),
    ("Classify", pb.ClassifyRequest(skills=["z" * 201]), INVALID, "limit is 200"),
    ("Link", pb.LinkRequest(), INVALID, "the list is empty"),
    ("Link", pb.LinkRequest(skills=["python"] * 9), INVALID, "limit is 8"),
    ("Link", pb.LinkRequest(skills=["python", "sql"], context=["one sentence"]), INVALID, "one sentence per skill"),
    ("Link", pb.LinkRequest(skills=["z" * 201]), INVALID, "limit is 200"),
    ("Link", pb.LinkRequest(skills=["python"], context=["c" * 2001]), INVALID, "limit is 2000"),
    ("Link", pb.LinkRequest(skills=["python"], top_k=21), INVALID, "top_k"),
    ("Link", pb.LinkRequest(skills=[""]), INVALID, "skill is empty"),
    ("Analyze", pb.AnalyzeRequest(text="Python", level=5), INVALID, "level"),
    ("Analyze", pb.AnalyzeRequest(text=""), INVALID, "text is empty"),
]


@pytest.mark.parametrize("method,request_,code,words", BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_bad_input_gets_its_status_and_rests_sentence(rpc, method, request_, code, words):
    with pytest.raises(grpc.RpcError) as err:
        getattr(rpc.stub, method)(request_, metadata=rpc.key, timeout=30)
    assert err.value.code() == code, err.value.details()
    assert words.lower() in (err.value.details() or "").lower()


@pytest.mark.parametrize("postings,words", [
    ([], "postings is empty"),
    ([pb.Posting(id="a", text="python"), pb.Posting(id="b", text="  ")], "postings[1] (id 'b'): text is empty"),
    ([pb.Posting(id="big", text="x" * 3001)], "limit is 3000"),
])
def test_a_bad_stream_is_refused_before_any_answer(rpc, postings, words):
    stream = rpc.stub.ExtractStream(pb.ExtractStreamRequest(postings=postings), metadata=rpc.key, timeout=30)
    with pytest.raises(grpc.RpcError) as err:
        next(iter(stream))
    assert err.value.code() == INVALID and words in err.value.details()


def test_an_unreadable_message_is_invalid_argument_not_unknown(rpc):
    raw = rpc.channel.unary_unary("/jobskills.v1.JobSkills/Extract")  # bytes in, bytes out
    with pytest.raises(grpc.RpcError) as err:
        raw(b"\x0a\x03\xff\xfe\xfd", metadata=rpc.key, timeout=10)  # field 1 (text) with bytes that are not UTF-8
    assert err.value.code() == INVALID and "UTF-8" in err.value.details()


def test_the_api_key_is_read_from_metadata(rpc):
    for metadata in ((), (("x-api-key", "wrong"),)):
        with pytest.raises(grpc.RpcError) as err:
            rpc.stub.Extract(pb.ExtractRequest(text="python"), metadata=metadata, timeout=30)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED and "API key" in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        list(rpc.stub.ExtractStream(pb.ExtractStreamRequest(postings=[pb.Posting(text="python")]), timeout=30))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert rpc.stub.Extract(pb.ExtractRequest(text="python"), metadata=rpc.key, timeout=30).model_tag
    assert httpx.post(f"{rpc.url}/extract", json={"text": "python"}, timeout=30).status_code == 401  # REST alike


def test_a_missing_model_is_unavailable(rpc):
    with pytest.raises(grpc.RpcError) as err:
        rpc.stub.Link(pb.LinkRequest(skills=["python"]), metadata=rpc.key, timeout=30)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE and "linker is not available" in err.value.details()


def _descendants(root: int) -> list[int]:
    """Pids under ``root`` (from /proc: every process's parent)."""
    parents: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                parents[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [root]
    while frontier:
        kids = [p for p, pp in parents.items() if pp in frontier]
        found += kids
        frontier = kids
    return found


def _tagger_workers(root: int) -> list[int]:
    pids = []
    for pid in _descendants(root):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "--service-name keyword_tagger" in cmd:
            pids.append(pid)
    return pids


def test_a_hung_model_call_ends_at_the_deadline(rpc):
    workers = _tagger_workers(rpc.proc.pid)
    assert workers, "no keyword_tagger worker found under jobskills serve"
    for pid in workers:
        os.kill(pid, signal.SIGSTOP)  # the model process stops answering, as a hung call does
    try:
        for call in (lambda: rpc.stub.Extract(pb.ExtractRequest(text="python and sql"), metadata=rpc.key, timeout=2),
                     lambda: list(rpc.stub.ExtractStream(pb.ExtractStreamRequest(
                         postings=[pb.Posting(id="a", text="python and sql")]), metadata=rpc.key, timeout=2))):
            t0 = time.monotonic()
            with pytest.raises(grpc.RpcError) as err:
                call()
            assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED, err.value.details()
            assert time.monotonic() - t0 < 5
    finally:
        for pid in workers:
            os.kill(pid, signal.SIGCONT)
    assert rpc.stub.Extract(pb.ExtractRequest(text="python and sql"), metadata=rpc.key, timeout=60).model_tag
    assert "Unexpected [" not in rpc.log.read_text(), "a servicer raised past its handler (grpcio answers UNKNOWN)"


# ---- monitoring sees gRPC traffic -----------------------------------------------------------


def test_grpc_calls_are_logged_for_monitoring_and_counted(rpc, data_dir):
    marker = f"grpc log check {time.time_ns()}: python and sql"
    rpc.stub.Extract(pb.ExtractRequest(text=marker), metadata=rpc.key, timeout=60)
    records = [r for r in iter_jsonl(data_dir / "logs", "requests")
               if isinstance(r.get("input"), dict) and r["input"].get("text") == marker]
    assert len(records) == 1 and records[0]["transport"] == "grpc" and records[0]["endpoint"] == "extract"
    counted = [line for line in rpc.http.get("/metrics").text.splitlines()
               if line.startswith("jobskills_requests_total{")]
    assert any('endpoint="extract"' in line and 'transport="grpc"' in line and 'outcome="ok"' in line
               for line in counted), counted


# ---- the gRPC server alone ------------------------------------------------------------------


def test_serve_grpc_without_an_api_is_not_serving_and_unavailable(serving_env, tmp_path):
    grpc_port, dead = free_port(), free_port()
    log = tmp_path / "alone.log"
    proc = _start(["serve-grpc", "--port", str(grpc_port), "--rest-url", f"http://127.0.0.1:{dead}"], serving_env, log)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            deadline = time.monotonic() + 30
            while _health(channel) != NOT_SERVING and time.monotonic() < deadline:
                time.sleep(0.2)
            assert _health(channel) == NOT_SERVING
            with pytest.raises(grpc.RpcError) as err:
                rpc_pb.JobSkillsStub(channel).Extract(pb.ExtractRequest(text="python"), timeout=10)
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE and "unreachable" in err.value.details()
        # a second server on the same port: one sentence and exit code 2
        second = subprocess.run([JOBSKILLS, "serve-grpc", "--port", str(grpc_port)], env=serving_env, check=False,
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 2 and "could not listen" in second.stdout + second.stderr
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        stop_group(proc)


def test_the_k8s_grpc_container_runs_as_written(serving_env, serving_root, server):
    """The ``grpc`` container of infra/k8s/jobskills-api.yaml run here: its args and environment,
    with the pod's loopback API swapped for the session's server and its port for a free one."""
    import yaml

    docs = yaml.safe_load_all((REPO / "infra" / "k8s" / "jobskills-api.yaml").read_text())
    pod = next(d for d in docs if d and d["kind"] == "Deployment")["spec"]["template"]["spec"]
    container = next(c for c in pod["containers"] if c["name"] == "grpc")
    port = free_port()
    env = {**serving_env, **{e["name"]: e["value"] for e in container["env"]},
           "JOBSKILLS_SERVE_GRPC_PORT": str(port), "JOBSKILLS_SERVE_GRPC_HOST": "127.0.0.1",
           "JOBSKILLS_SERVE_REST_URL": server}
    args = [sys.executable if a == "python" else a for a in container["args"]]
    log = serving_root / "grpc-k8s.log"
    with log.open("w") as fh:
        proc = subprocess.Popen(args, env=env, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            _wait_serving(proc, channel, server, log, timeout=60)
            answer = rpc_pb.JobSkillsStub(channel).Extract(pb.ExtractRequest(text=POSTING), timeout=60)
            assert answer.keywords and answer.model_tag
    finally:
        stop_group(proc)
