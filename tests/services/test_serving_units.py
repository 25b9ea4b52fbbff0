"""Serving pieces that need no server: body checks, request schemas, config, the serve command."""

from __future__ import annotations

import asyncio
import json

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from services.config import ServingConfig
from services.guard import BodyGuard, body_problem
from services.schemas import ClassifyRequest, ExtractRequest, FeedbackRequest, MatchRequest


def test_body_problem_names_the_fault():
    assert body_problem(b'{"text": "ok"}') is None
    assert "UTF-8" in body_problem(b'{"text": "\xff"}')
    assert "not valid JSON" in body_problem(b'{"text": ')
    assert body_problem(b"[" * 100_000 + b"]" * 100_000) is not None  # a parser bomb is refused, not a crash


def _run_guard(body: bytes, content_type: str | None = "application/json", max_bytes: int = 1000,
               path: str = "/extract"):
    seen = {}

    async def app(scope, receive, send):
        body = b""
        while True:
            msg = await receive()
            body += msg["body"]
            if not msg.get("more_body"):
                break
        seen["body"] = body
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    sent = []
    chunks = [body[:5], body[5:]]

    async def receive():
        c = chunks.pop(0)
        return {"type": "http.request", "body": c, "more_body": bool(chunks)}

    async def send(msg):
        sent.append(msg)

    headers = [(b"content-type", content_type.encode())] if content_type is not None else []
    scope = {"type": "http", "method": "POST", "path": path, "headers": headers}
    asyncio.run(BodyGuard(app, paths=["/extract"], max_body_bytes=max_bytes)(scope, receive, send))
    status = sent[0]["status"]
    payload = b"".join(m.get("body", b"") for m in sent[1:])
    return status, payload, seen.get("body")


def test_guard_replays_a_good_body_and_stops_bad_ones():
    status, payload, forwarded = _run_guard(b'{"text": "Python and SQL"}')
    assert status == 200 and forwarded == b'{"text": "Python and SQL"}'
    status, _, forwarded = _run_guard(b'{"text": "Python"}', content_type=None)  # no header: JSON assumed
    assert status == 200 and forwarded == b'{"text": "Python"}'
    status, payload, forwarded = _run_guard(b'{"text": "\xc3\x28"}')
    assert status == 400 and b"UTF-8" in payload and forwarded is None
    status, payload, _ = _run_guard(b"x" * 2000)
    assert status == 413 and json.loads(payload)["error"].startswith("request body is larger")
    status, payload, _ = _run_guard(b"a,b", content_type="text/csv")
    assert status == 415
    status, _, forwarded = _run_guard(b"not json", path="/other")  # not an API route: untouched
    assert status == 200 and forwarded == b"not json"


def test_request_schemas_enforce_the_settings_limits(settings_env, monkeypatch):
    from common.core.settings import get_settings

    monkeypatch.setenv("JOBSKILLS_MAX_TEXT_CHARS", "10")
    monkeypatch.setenv("JOBSKILLS_MAX_BATCH_ITEMS", "2")
    get_settings.cache_clear()
    assert ExtractRequest(text="Python").text == "Python"
    with pytest.raises(ValidationError, match="limit is 10"):
        ExtractRequest(text="x" * 11)
    with pytest.raises(ValidationError, match="text is empty"):
        ExtractRequest(text="  ")
    with pytest.raises(ValidationError, match="limit is 2"):
        ClassifyRequest(skills=["a", "b", "c"])
    with pytest.raises(ValidationError, match="exactly one"):
        MatchRequest(resume="a", resume_skills=["b"], job="c")
    assert MatchRequest(resume_skills=["a"], job="c").job == "c"


def test_feedback_record_uses_the_text_for_keyword_strings(settings_env):
    fb = FeedbackRequest(text="Need Python now", keywords=[{"start": 5, "end": 11, "type": "Knowledge"}],
                         groups=[{"skill": "Python", "codes": ["S1"]}, {"skill": "Python", "codes": ["S1", "S2"]}])
    rec = fb.to_record()
    assert rec["keywords"] == [{"start": 5, "end": 11, "text": "Python", "type": "Knowledge", "score": 1.0}]
    assert rec["groups"] == {"Python": ["S1", "S2"]}  # the request_log feedback format
    assert rec["annotator"] == "web"
    with pytest.raises(ValidationError, match="differs"):
        FeedbackRequest(text="Need Python now", keywords=[{"start": 5, "end": 11, "type": "Skill", "text": "Java"}])
    with pytest.raises(ValidationError, match="only whitespace"):
        FeedbackRequest(text="Need  Python", keywords=[{"start": 4, "end": 6, "type": "Skill"}])


def test_serving_config_from_yaml_and_env(tmp_path, monkeypatch):
    for k in ("JOBSKILLS_SERVE_MAX_BATCH_SIZE", "JOBSKILLS_SERVE_GPUS", "JOBSKILLS_SERVE_WORKERS"):
        monkeypatch.delenv(k, raising=False)
    cfg_file = tmp_path / "serve.yaml"
    cfg_file.write_text("max_batch_size: 8\ngpus: 1\nworkers: 2\n")
    monkeypatch.setenv("JOBSKILLS_SERVE_CONFIG", str(cfg_file))
    monkeypatch.setenv("JOBSKILLS_SERVE_WORKERS", "3")  # the environment wins over the file
    cfg = ServingConfig.load()
    assert (cfg.max_batch_size, cfg.gpu_count(), cfg.workers) == (8, 1, 3)
    assert cfg.resources() == {"gpu": 1}
    monkeypatch.setenv("JOBSKILLS_SERVE_GPUS", "0")
    assert ServingConfig.load().resources() == {}
    monkeypatch.setenv("JOBSKILLS_SERVE_GPUS", "many")
    with pytest.raises(ValidationError):
        ServingConfig.load()


def test_serve_command_sets_the_environment(tmp_path, monkeypatch):
    from jobskills.cli.serving import serve_command

    for k in ("JOBSKILLS_SERVE_KEYWORD_MODEL_DIR", "JOBSKILLS_SERVE_GPUS"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setattr("os.environ", dict(__import__("os").environ))
    import os

    cmd = serve_command("127.0.0.1", 3123, tmp_path, None, None, None, "0", None)
    assert cmd[1:4] == ["-m", "bentoml", "serve"] and "services.api:ApiService" in cmd
    assert cmd[cmd.index("--port") + 1] == "3123" and cmd[cmd.index("--host") + 1] == "127.0.0.1"
    assert os.environ["JOBSKILLS_SERVE_KEYWORD_MODEL_DIR"] == str(tmp_path.resolve())
    assert os.environ["JOBSKILLS_SERVE_GPUS"] == "0"
    with pytest.raises(ValueError, match="--gpus"):
        serve_command("127.0.0.1", 3123, None, None, None, None, "lots", None)
    serve_command("127.0.0.1", 3123, None, None, None, None, None, None, tier="fast")
    assert os.environ["JOBSKILLS_SERVE_KEYWORD_TIER"] == "fast"
    assert ServingConfig().keyword_tier == "fast"  # what the keyword service reads
    with pytest.raises(ValueError, match="--tier must be auto, accurate or fast"):
        serve_command("127.0.0.1", 3123, None, None, None, None, None, None, tier="big")


def test_serve_with_a_grpc_port_runs_the_grpc_server_through_the_http_port(monkeypatch):
    from jobskills.cli import serving as serving_cli
    from jobskills.cli.main import app

    monkeypatch.setattr("os.environ", dict(__import__("os").environ))
    import os

    runs = []
    monkeypatch.setattr(serving_cli, "run_together", lambda commands: runs.append(commands) or 0)
    res = CliRunner().invoke(app, ["serve", "--port", "3123", "--grpc-port", "50123", "--host", "0.0.0.0"])
    assert res.exit_code == 0, res.output
    (commands,) = runs
    assert commands[0][1:4] == ["-m", "bentoml", "serve"] and commands[1][1:] == ["-m", "services.rpc"]
    assert os.environ["JOBSKILLS_SERVE_GRPC_PORT"] == "50123" and os.environ["JOBSKILLS_SERVE_GRPC_HOST"] == "0.0.0.0"
    assert os.environ["JOBSKILLS_SERVE_REST_URL"] == "http://127.0.0.1:3123"  # every interface includes loopback
    assert ServingConfig.load().grpc_bind() == "0.0.0.0:50123"
    assert "gRPC" in res.output
    same = CliRunner().invoke(app, ["serve", "--port", "3123", "--grpc-port", "3123"])
    assert same.exit_code == 2 and "HTTP port too" in " ".join(same.output.split())
    assert serving_cli.rest_url_for("10.1.2.3", 3000) == "http://10.1.2.3:3000"
    assert serving_cli.rest_url_for("::1", 3000) == "http://[::1]:3000"


def test_serve_cli_refuses_a_missing_model_folder(tmp_path):
    from jobskills.cli.main import app

    res = CliRunner().invoke(app, ["serve", "--keyword-model-dir", str(tmp_path / "nope")])
    assert res.exit_code == 2
    assert "does not exist" in " ".join(res.output.split())  # rich wraps long lines


def test_dependency_call_retries_a_call_that_never_answers():
    """The hang seen under load: one call never returns; the next try must answer."""
    from services.retry import call_dependency

    calls: list[str] = []

    async def flaky(text: str) -> str:
        calls.append(text)
        if len(calls) == 1:
            await asyncio.sleep(3600)  # the lost answer
        return text.upper()

    async def run() -> tuple[str, float]:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        out = await call_dependency(flaky, "python", timeout_s=0.2, what="keyword service")
        return out, loop.time() - t0

    out, seconds = asyncio.run(run())
    assert out == "PYTHON" and calls == ["python", "python"]
    assert seconds < 2, f"the hung call should be given up after its deadline, took {seconds:.1f}s"


def test_dependency_call_gives_a_503_with_the_reason_when_every_try_drops():
    import aiohttp

    from services.retry import DependencyUnavailable, call_dependency

    calls = 0

    async def dropped() -> None:
        nonlocal calls
        calls += 1
        raise aiohttp.ServerDisconnectedError()

    with pytest.raises(DependencyUnavailable, match=r"skill-group service did not answer after 3 attempts: connection dropped") as err:
        asyncio.run(call_dependency(dropped, what="skill-group service"))
    assert calls == 3 and err.value.error_code == 503


def test_dependency_call_does_not_retry_a_model_error():
    """Only dropped connections and deadlines are retried; a wrong answer is not hidden."""
    from services.retry import call_dependency

    calls = 0

    async def broken() -> None:
        nonlocal calls
        calls += 1
        raise ValueError("bad input for the model")

    with pytest.raises(ValueError, match="bad input"):
        asyncio.run(call_dependency(broken, timeout_s=1.0))
    assert calls == 1


def test_model_services_keep_their_client_sessions(monkeypatch):
    """BentoML replaces the API's session to a model service every runner_connection.max_requests
    calls and breaks the calls in flight; the model services raise that limit."""
    import services.groups
    import services.keywords

    for svc in (services.keywords.KeywordService, services.groups.GroupService):
        conn = svc.config.get("runner_connection")
        assert conn == ServingConfig().runner_connection() and conn["max_requests"] >= 100_000, svc.name
    monkeypatch.setenv("JOBSKILLS_SERVE_RUNNER_MAX_REQUESTS", "500")
    assert ServingConfig.load().runner_connection()["max_requests"] == 500


def test_dependency_deadline_stays_under_the_request_timeout(monkeypatch):
    assert ServingConfig(timeout_s=120).dependency_deadline() == 60
    assert ServingConfig(timeout_s=120, dependency_timeout_s=10).dependency_deadline() == 10
    with pytest.raises(ValidationError, match="must be under timeout_s"):
        ServingConfig(timeout_s=30, dependency_timeout_s=30)


def _admission_world(client_limit: int = 1_000, total_limit: int = 2_500):
    """An Admission in front of an app that holds each request until released, and a way to send."""
    from services.admission import Admission

    gates: list[asyncio.Event] = []

    async def app(scope, receive, send):
        await receive()
        gate = asyncio.Event()
        gates.append(gate)
        await gate.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    mw = Admission(app, paths=["/extract"], client_max_inflight_chars=client_limit, max_inflight_chars=total_limit)

    async def call(chars: int, key: bytes | None = None, addr: str = "10.0.0.1") -> dict:
        out: dict = {}
        headers = [(b"x-api-key", key)] if key else []
        scope = {"type": "http", "method": "POST", "path": "/extract", "headers": headers, "client": (addr, 1)}

        async def receive():
            return {"type": "http.request", "body": b"x" * chars, "more_body": False}

        async def send(msg):
            if msg["type"] == "http.response.start":
                out["status"], out["headers"] = msg["status"], dict(msg["headers"])
            else:
                out["body"] = out.get("body", b"") + msg.get("body", b"")

        await mw(scope, receive, send)
        return out

    return mw, gates, call


def test_admission_bounds_each_client_and_everyone_with_sentences_and_retry_after():
    async def scenario():
        mw, gates, call = _admission_world()
        first = asyncio.create_task(call(900, key=b"a"))
        await asyncio.sleep(0.01)
        second = await call(300, key=b"a")  # client a: 900 + 300 > 1,000 in flight
        assert second["status"] == 429 and int(second["headers"][b"retry-after"]) >= 1
        assert "this client already has 900 characters of work in flight" in json.loads(second["body"])["error"]
        others = [asyncio.create_task(call(800, key=k)) for k in (b"b", b"c")]  # 900 + 1,600 = 2,500: admitted
        await asyncio.sleep(0.01)
        full = await call(100, addr="10.0.0.9")  # a new client, but everyone's budget is spent
        assert full["status"] == 503 and b"retry-after" in full["headers"]
        assert "the service is at capacity (2,500 characters" in json.loads(full["body"])["error"]
        for g in gates:
            g.set()
        assert [(await t)["status"] for t in (first, *others)] == [200, 200, 200]
        assert mw.budget.in_flight == {}  # everything released: the next burst starts from nothing
        alone = asyncio.create_task(call(5_000, key=b"a"))  # larger than any budget, but alone: admitted
        await asyncio.sleep(0.01)
        gates[-1].set()
        assert (await alone)["status"] == 200

    asyncio.run(scenario())


def test_a_bare_503_from_below_is_explained():
    from services.admission import Admission

    async def app(scope, receive, send):
        await receive()
        await send({"type": "http.response.start", "status": 503, "headers": []})
        await send({"type": "http.response.body",
                    "body": b'{"error":"An unexpected error has occurred, please check the server log."}'})

    async def scenario():
        out = {}
        mw = Admission(app, paths=["/extract"], client_max_inflight_chars=10_000, max_inflight_chars=10_000)

        async def receive():
            return {"type": "http.request", "body": b'{"text": "python"}', "more_body": False}

        async def send(msg):
            if msg["type"] == "http.response.start":
                out["status"], out["headers"] = msg["status"], dict(msg["headers"])
            else:
                out["body"] = msg["body"]

        await mw({"type": "http", "method": "POST", "path": "/extract", "headers": [], "client": ("1.2.3.4", 5)},
                 receive, send)
        return out

    out = asyncio.run(scenario())
    assert out["status"] == 503 and b"retry-after" in out["headers"]
    assert "overloaded" in json.loads(out["body"])["error"] and "unexpected" not in out["body"].decode()


def test_long_texts_are_cut_into_units_at_line_ends_and_put_back_together():
    from services.scheduler import split_units

    text = "\n".join(f"Line {i}: we need Python, SQL and Docker experience." for i in range(400))
    units = split_units(text, 1_000)
    assert "".join(u for _, u in units) == text and all(len(u) <= 1_000 for _, u in units)
    assert all(text[off : off + len(u)] == u for off, u in units)
    assert all(u.endswith("\n") for _, u in units[:-1])  # cut after a line end: no keyword is cut
    one_line = "We need Python. " * 500  # no line end: cut after a sentence end
    assert all(u.endswith(". ") for _, u in split_units(one_line, 1_000)[:-1])
    assert split_units("short", 1_000) == [(0, "short")]


def test_the_scheduler_gives_one_client_big_calls_and_competing_clients_small_ones():
    """Alone, a client's units go in calls of batch_chars, two outstanding; once another client has
    work queued, calls shrink to shared_batch_chars with one outstanding, so the newcomer waits
    behind little; alone again, calls grow back."""
    from services.scheduler import FairScheduler

    async def scenario():
        calls: list[tuple[list[str], int]] = []  # (units, calls outstanding when it started)
        outstanding = 0
        release = asyncio.Event()

        async def run_batch(units):
            nonlocal outstanding
            outstanding += 1
            calls.append((units, outstanding))
            await release.wait()
            outstanding -= 1
            return [u.upper() for u in units]

        sched = FairScheduler(run_batch, batch_chars=8, max_batches_in_flight=2, shared_batch_chars=4, linger=0.0)
        solo = asyncio.create_task(sched.submit("a", [f"a{i}x" for i in range(12)]))  # 3-char units
        await asyncio.sleep(0.01)
        assert [len(u) for u, _ in calls] == [2, 2] and calls[1][1] == 2  # 6 chars a call, two at once
        other = asyncio.create_task(sched.submit("b", ["b0x", "b1x"]))
        await asyncio.sleep(0.01)
        release.set()
        assert await other == ["B0X", "B1X"] and await solo == [f"A{i}X" for i in range(12)]
        assert [u for u, _ in calls] == [["a0x", "a1x"], ["a2x", "a3x"],  # alone: big calls
                                         ["a4x"], ["b0x"], ["a5x"], ["b1x"],  # competing: one unit a call, in turn
                                         ["a6x", "a7x"], ["a8x", "a9x"], ["a10x", "a11x"]]  # alone again
        assert all(n == 1 for _, n in calls[2:6])  # one call outstanding while they compete
        # with a linger, a client answered a moment ago still counts: calls stay small meanwhile
        calls.clear()
        lingering = FairScheduler(run_batch, batch_chars=8, max_batches_in_flight=2, shared_batch_chars=4, linger=60)
        assert await lingering.submit("b", ["b2x"]) == ["B2X"]
        assert await lingering.submit("a", ["a0x", "a1x", "a2x"]) == ["A0X", "A1X", "A2X"]
        assert [u for u, _ in calls] == [["b2x"], ["a0x"], ["a1x"], ["a2x"]]

    asyncio.run(scenario())


def test_the_scheduler_serves_clients_in_turn_and_drops_work_whose_client_has_gone():
    from services.scheduler import FairScheduler

    async def scenario():
        batches: list[list[str]] = []
        gate = asyncio.Event()

        async def run_batch(units):
            batches.append(units)
            await gate.wait()
            if "boom" in units:
                raise RuntimeError("model failed")
            return [u.upper() for u in units]

        sched = FairScheduler(run_batch, batch_chars=6, max_batches_in_flight=1)  # two 2-3 char units a call
        big = asyncio.create_task(sched.submit("a", [f"a{i}" for i in range(20)]))
        await asyncio.sleep(0.01)
        small = asyncio.create_task(sched.submit("b", ["b0"]))
        gone = asyncio.create_task(sched.submit("c", ["c0", "c1"]))
        await asyncio.sleep(0.01)
        gone.cancel()  # client c hangs up before its turn
        gate.set()
        assert await small == ["B0"]
        assert await big == [f"A{i}" for i in range(20)]
        position_of_b = next(i for i, b in enumerate(batches) if "b0" in b)
        assert position_of_b == 1, batches  # right after the batch in flight, not after a's 20 units
        assert not any(u.startswith("c") for b in batches for u in b)
        with pytest.raises(RuntimeError, match="model failed"):
            await sched.submit("d", ["boom"])
        assert await sched.submit("d", ["ok"]) == ["OK"]  # the dispatcher survives a failed batch
        assert sched.pending() == 0

    asyncio.run(scenario())
