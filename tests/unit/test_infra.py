"""Every container, compose, Kubernetes and Prefect file in ``infra/`` and ``prefect.yaml`` is
parsed and cross-checked against the code it runs: service names, ports, probe paths (the routes
BentoML and Prefect really serve), images, volumes, settings variables, flow entrypoints.
No Docker or cluster is needed; ``kubectl kustomize`` is used when kubectl is installed.
"""

from __future__ import annotations

import ast
import functools
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
K8S = INFRA / "k8s"
COMPOSE = INFRA / "docker-compose.yml"
DOCKERFILE = INFRA / "flows.Dockerfile"
PREFECT_YAML = REPO / "prefect.yaml"
TEMPLATE = K8S / "work-pool-template.json"
POOL = "jobskills"
BENTO_PORT = 3000


# ---- loaders -----------------------------------------------------------------------------------

def _kustomization() -> dict:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


def _k8s_objects() -> list[dict]:
    objs = []
    for name in _kustomization()["resources"]:
        for doc in yaml.safe_load_all((K8S / name).read_text()):
            if doc:
                doc["_file"] = name
                objs.append(doc)
    return objs


def _by_kind(kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in _k8s_objects() if o["kind"] == kind}


def _pod_spec(obj: dict) -> dict:
    return obj["spec"]["template"]["spec"]


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _prefect_yaml() -> dict:
    return yaml.safe_load(PREFECT_YAML.read_text())


def _settings_fields() -> set[str]:
    from common.core.settings import Settings

    return {f"JOBSKILLS_{k.upper()}" for k in Settings.model_fields}


def _serving_fields() -> set[str]:
    from services.config import ServingConfig

    return {f"JOBSKILLS_SERVE_{k.upper()}" for k in ServingConfig.model_fields}


def _check_env_names(env: dict[str, Any] | list, where: str) -> None:
    """Every JOBSKILLS_* variable must be a real settings field (a typo would be silently ignored)."""
    names = [e["name"] for e in env] if isinstance(env, list) else list(env)
    known = _settings_fields() | _serving_fields() | {"JOBSKILLS_SERVE_CONFIG"}
    bad = [n for n in names if n.startswith("JOBSKILLS_") and n not in known]
    assert not bad, f"{where}: unknown settings variables {bad}"


# ---- the routes the real servers expose ----------------------------------------------------------

@pytest.fixture(scope="module")
def bento_routes(tmp_path_factory, monkeypatch_module) -> dict[str, set[str]]:
    """GET routes of each BentoML service's ASGI app (the app ``bentoml serve`` runs), by service name."""
    monkeypatch_module.setenv("BENTOML_HOME", str(tmp_path_factory.mktemp("bentoml")))
    monkeypatch_module.setenv("JOBSKILLS_SERVE_GPUS", "0")
    from _bentoml_impl.server.app import ServiceAppFactory

    from services.api import ApiService

    ApiService.inject_config()  # what `bentoml serve` does before building the apps
    out = {}
    for svc in ApiService.all_services().values():
        app = ServiceAppFactory(svc, is_main=svc is ApiService)()
        out[svc.name] = {getattr(r, "path", "") for r in app.routes}
    return out


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_bentoml_serves_the_probe_endpoints(bento_routes):
    """The probes in k8s and compose are only meaningful if BentoML really serves these paths."""
    assert set(bento_routes) == {"jobskills_api", "keyword_tagger", "skill_groups"}
    for name, routes in bento_routes.items():
        assert {"/healthz", "/readyz", "/livez", "/metrics"} <= routes, (name, sorted(routes))
    assert "/analyze" in bento_routes["jobskills_api"] and "/analyze" not in bento_routes["keyword_tagger"]


# ---- docker-compose -------------------------------------------------------------------------------

def test_compose_services_images_ports_and_volumes():
    c = _compose()
    svcs = c["services"]
    assert {"postgres", "prefect-server", "prefect-worker", "api", "evidently"} <= set(svcs)
    flows_image = "jobskills-flows:latest"
    builds = [s for s in svcs.values() if "build" in s]
    assert builds
    for s in builds:
        assert (COMPOSE.parent / s["build"]["context"] / s["build"]["dockerfile"]).resolve() == DOCKERFILE
    for name in ("prefect-server", "prefect-worker", "evidently"):
        assert svcs[name]["image"] == flows_image, name
    assert "jobskills-api" in svcs["api"]["image"]

    declared = set(c.get("volumes") or {})
    for name, s in svcs.items():
        for dep in s.get("depends_on", {}):
            assert dep in svcs, f"{name} depends on unknown service {dep}"
        for v in s.get("volumes", []):
            src = v.split(":")[0]
            if src.startswith((".", "/", "$")):
                if src.startswith("."):
                    assert (COMPOSE.parent / src).exists(), f"{name}: bind mount {src} missing"
            else:
                assert src in declared, f"{name}: volume {src} not declared"
        env = s.get("environment") or {}
        _check_env_names(env, f"compose {name}")

    def host_port(svc: str) -> tuple[str, int]:
        (mapping,) = svcs[svc]["ports"]
        host, hport, cport = mapping.split(":")
        assert host == "127.0.0.1" and hport == cport, f"{svc}: publish on loopback, same port ({mapping})"
        return host, int(cport)

    assert host_port("api")[1] == BENTO_PORT
    assert "--port" in svcs["api"]["command"] and str(BENTO_PORT) in svcs["api"]["command"]
    assert host_port("prefect-server")[1] == 4200 and "4200" in svcs["prefect-server"]["command"]
    ev = svcs["evidently"]["command"]
    assert ev[:2] == ["evidently", "ui"] and host_port("evidently")[1] == int(ev[ev.index("--port") + 1])
    # the UI reads the workspace the monitor flow writes: <JOBSKILLS_DATA_DIR>/evidently
    data_dir = svcs["evidently"]["environment"]["JOBSKILLS_DATA_DIR"]
    assert ev[ev.index("--workspace") + 1] == f"{data_dir}/evidently"

    for name in ("prefect-worker", "prefect-deploy"):
        env = svcs[name]["environment"]
        assert env["PREFECT_API_URL"] == "http://prefect-server:4200/api"
    server_env = svcs["prefect-server"]["environment"]
    assert "postgresql+asyncpg://" in server_env["PREFECT_API_DATABASE_CONNECTION_URL"]
    assert svcs["prefect-worker"]["environment"]["JOBSKILLS_STORAGE_URL"].startswith("postgresql://")
    worker = svcs["prefect-worker"]["command"]
    assert worker[worker.index("--pool") + 1] == POOL and worker[worker.index("--type") + 1] == "process"
    # worker and API share the data folder (request logs -> monitor) and the model store (promote -> serve)
    mounts = {n: {v.split(":")[1] for v in svcs[n]["volumes"]} for n in ("prefect-worker", "api")}
    assert {"/data", "/bentoml"} <= mounts["prefect-worker"] & mounts["api"]
    assert svcs["api"]["environment"]["BENTOML_HOME"] == "/bentoml"


def test_compose_healthchecks_hit_real_endpoints(bento_routes):
    svcs = _compose()["services"]
    api_check = " ".join(svcs["api"]["healthcheck"]["test"])
    path = re.search(rf"localhost:{BENTO_PORT}(/\w+)", api_check).group(1)
    assert path in bento_routes["jobskills_api"]
    prefect_check = " ".join(svcs["prefect-server"]["healthcheck"]["test"])
    assert re.search(r"localhost:4200(/api/\w+)", prefect_check).group(1) in _prefect_api_routes()


# ---- flows image ------------------------------------------------------------------------------------

def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def test_flows_dockerfile_copies_real_paths_and_runs_the_pool():
    ins = _dockerfile_instructions()
    workdir = [r for op, r in ins if op == "WORKDIR"][-1]
    pull = _prefect_yaml()["pull"][0]["prefect.deployments.steps.set_working_directory"]["directory"]
    assert workdir == pull, "prefect.yaml's pull step must move into the image's project folder"
    ignore = (INFRA / "flows.Dockerfile.dockerignore").read_text().splitlines()
    for op, rest in ins:
        if op == "COPY" and "--from" not in rest:
            for src in rest.split()[:-1]:
                assert (REPO / src).exists(), f"COPY {src}: not in the repository"
                assert any(line.lstrip("!").rstrip("/*") == src.rstrip("/") for line in ignore
                           if line.startswith("!")), f"{src} is excluded by the .dockerignore"
    cmd = json.loads([r for op, r in ins if op == "CMD"][-1])
    assert cmd[:3] == ["prefect", "worker", "start"] and cmd[cmd.index("--pool") + 1] == POOL
    assert "8000" in [r for op, r in ins if op == "EXPOSE"][0].split()
    env = " ".join(r for op, r in ins if op == "ENV")
    _check_env_names(dict(re.findall(r"(\w+)=(\S+)", env)), "flows.Dockerfile")
    # the k8s extra it installs exists in pyproject
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'pip install ".[k8s]"' in DOCKERFILE.read_text()
    assert re.search(r"^k8s = \[.*prefect-kubernetes", pyproject, re.M)


def test_one_uid_owns_the_shared_volumes():
    """Compose hands /data and /bentoml to one uid: the flows image's user and the Bento image's user."""
    from bentoml._internal.container.generate import BENTO_UID_GID

    uid = int(re.search(r"ARG APP_UID=(\d+)", DOCKERFILE.read_text()).group(1))
    assert uid == BENTO_UID_GID
    init = " ".join(_compose()["services"]["volumes-init"]["entrypoint"])
    assert f"chown -R {uid}:{uid} /data /bentoml" in init
    for obj, _ in _containers():
        ctx = _pod_spec(obj).get("securityContext")
        if ctx and "fsGroup" in ctx:
            assert ctx["fsGroup"] == uid, obj["metadata"]["name"]
    assert _template()["job_configuration"]["job_manifest"]["spec"]["template"]["spec"]["securityContext"][
        "runAsUser"] == uid


def test_bento_script_is_valid_bash_and_targets_cuda():
    assert subprocess.run(["bash", "-n", str(INFRA / "bento.sh")]).returncode == 0
    text = (INFRA / "bento.sh").read_text()
    from bentoml._internal.container.frontend.dockerfile import ALLOWED_CUDA_VERSION_ARGS

    cuda = re.search(r'CUDA_VERSION="\$\{CUDA_VERSION:-([\d.]+)\}"', text).group(1)
    assert cuda in ALLOWED_CUDA_VERSION_ARGS, f"BentoML cannot build CUDA {cuda}"
    bentofile = yaml.safe_load((REPO / "bentofile.yaml").read_text())
    assert bentofile["service"] == "services.api:ApiService"


# ---- Kubernetes -------------------------------------------------------------------------------------

def test_kustomization_lists_every_manifest_and_file():
    k = _kustomization()
    listed = set(k["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk
    for gen in k["configMapGenerator"]:
        for f in gen["files"]:
            assert (K8S / f.split("=")[-1]).exists(), f
    assert {i["name"] for i in k["images"]} == {"jobskills-flows", "jobskills-api"}
    for o in _k8s_objects():
        if o["kind"] != "Namespace":
            assert o["metadata"].get("namespace", k["namespace"]) == k["namespace"], o["_file"]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_kustomize_renders_everything():
    proc = subprocess.run(["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    rendered = [d for d in yaml.safe_load_all(proc.stdout) if d]
    generated = {g["name"] for g in _kustomization()["configMapGenerator"]}
    assert len(rendered) == len(_k8s_objects()) + len(generated)
    cms = {d["metadata"]["name"]: d for d in rendered if d["kind"] == "ConfigMap"}
    assert json.loads(cms["prefect-work-pool-template"]["data"]["work-pool-template.json"]) == json.loads(
        TEMPLATE.read_text())


def _strict_model_check(data: Any, model: str, path: str) -> None:
    """Every key must be a field of the Kubernetes API model (kubernetes_asyncio's generated models)."""
    import kubernetes_asyncio.client.models as m

    cls = getattr(m, model, None)
    if cls is None or not isinstance(data, dict):
        return
    attr = {v: k for k, v in cls.attribute_map.items()}
    for key, value in data.items():
        assert key in attr, f"{path}: unknown field {key!r} for {model}"
        typ = cls.openapi_types[attr[key]]
        inner = re.fullmatch(r"list\[(\w+)\]", typ)
        if inner and isinstance(value, list):
            for i, item in enumerate(value):
                _strict_model_check(item, inner.group(1), f"{path}.{key}[{i}]")
        else:
            _strict_model_check(value, typ, f"{path}.{key}")


def test_manifests_match_the_kubernetes_api_schema():
    pytest.importorskip("kubernetes_asyncio", reason="kubernetes_asyncio (prefect-kubernetes) not installed")
    for o in _k8s_objects():
        body = {k: v for k, v in o.items() if k != "_file"}
        group_version = o["apiVersion"].split("/")[-1].capitalize()
        model = f"{group_version}{o['kind']}"
        if o["apiVersion"] == "autoscaling/v2":
            model = f"V2{o['kind']}"
        _strict_model_check(body, model, f"{o['_file']}:{o['kind']}/{o['metadata']['name']}")


def _containers() -> list[tuple[dict, dict]]:
    out = []
    for kind in ("Deployment", "StatefulSet", "Job"):
        for obj in _by_kind(kind).values():
            for c in _pod_spec(obj)["containers"]:
                out.append((obj, c))
    return out


def test_k8s_references_resolve():
    """Selectors, target ports, config maps, secrets, claims, HPAs and images all point at real things."""
    deployments = _by_kind("Deployment") | _by_kind("StatefulSet")
    configmaps = set(_by_kind("ConfigMap")) | {g["name"] for g in _kustomization()["configMapGenerator"]}
    secrets = _by_kind("Secret")
    claims = set(_by_kind("PersistentVolumeClaim"))
    images = {i["name"] for i in _kustomization()["images"]} | {"postgres"}
    for svc in _by_kind("Service").values():
        sel = svc["spec"]["selector"]
        targets = [d for d in deployments.values()
                   if sel.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert len(targets) == 1, f"service {svc['metadata']['name']} selects {len(targets)} workloads"
        ports = {p["name"] for c in _pod_spec(targets[0])["containers"] for p in c.get("ports", [])}
        for p in svc["spec"]["ports"]:
            assert p["targetPort"] in ports
    for obj, c in _containers():
        assert c["image"].split(":")[0] in images, c["image"]
        for ef in c.get("envFrom", []):
            if "configMapRef" in ef:
                assert ef["configMapRef"]["name"] in configmaps
            else:
                assert ef["secretRef"]["name"] in secrets
        for e in c.get("env", []):
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref and not ref.get("optional"):
                assert ref["key"] in secrets[ref["name"]]["stringData"]
        _check_env_names(c.get("env", []), f"{obj['metadata']['name']}/{c['name']}")
        mounts = {m["name"] for m in c.get("volumeMounts", [])}
        vols = {v["name"]: v for v in _pod_spec(obj).get("volumes", [])}
        vols |= {t["metadata"]["name"]: t for t in obj["spec"].get("volumeClaimTemplates", [])}
        assert mounts <= set(vols), (obj["metadata"]["name"], mounts - set(vols))
        for v in vols.values():
            if "persistentVolumeClaim" in v:
                assert v["persistentVolumeClaim"]["claimName"] in claims
            if "configMap" in v:
                assert v["configMap"]["name"] in configmaps
    _check_env_names(_by_kind("ConfigMap")["jobskills-env"]["data"], "jobskills-env")
    for hpa in _by_kind("HorizontalPodAutoscaler").values():
        ref = hpa["spec"]["scaleTargetRef"]
        assert ref["kind"] == "Deployment" and ref["name"] in deployments
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    hpa_targets = {h["spec"]["scaleTargetRef"]["name"] for h in _by_kind("HorizontalPodAutoscaler").values()}
    assert {"jobskills-api", "keyword-tagger", "skill-groups"} <= hpa_targets


def _bento_args(c: dict) -> dict[str, Any]:
    args = c.get("args", [])
    assert args[0] == "start-http-server", "the Bento image's entrypoint serves one service with this"
    out: dict[str, Any] = {"depends": {}}
    for i, a in enumerate(args):
        if a == "--service-name":
            out["service"] = args[i + 1]
        if a == "--port":
            out["port"] = int(args[i + 1])
        if a == "--depends":
            k, v = args[i + 1].split("=", 1)
            out["depends"][k] = v
    return out


def test_bentoml_services_split_into_deployments(bento_routes):
    """Each model service runs alone on a GPU node; the API reaches both over their k8s Services."""
    services = _by_kind("Service")
    bento = {}
    for obj, c in _containers():
        if c["image"].startswith("jobskills-api") and c["name"] != "grpc":  # the gRPC front: its own test
            bento[obj["metadata"]["name"]] = (obj, c, _bento_args(c))
    assert set(bento) == {"jobskills-api", "keyword-tagger", "skill-groups"}
    images = {c["image"] for _, c, _ in bento.values()}
    assert len(images) == 1, f"all three run the same Bento image, got {images}"
    served = {}
    for name, (obj, c, args) in bento.items():
        svc_name = args.get("service", "jobskills_api")
        assert svc_name in bento_routes, f"{name}: no BentoML service {svc_name!r} in services.api"
        served[svc_name] = name
        assert args["port"] == BENTO_PORT == c["ports"][0]["containerPort"]
        for probe, want in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            path = c[probe]["httpGet"]["path"]
            assert path == want and path in bento_routes[svc_name], (name, probe, path)
        gpu = c["resources"]["limits"].get("nvidia.com/gpu")
        if svc_name == "jobskills_api":
            assert gpu is None and "nodeSelector" not in _pod_spec(obj)
        else:
            assert gpu == 1 and c["resources"]["requests"]["nvidia.com/gpu"] == 1
            spec = _pod_spec(obj)
            assert spec["nodeSelector"] and any(t["key"] == "nvidia.com/gpu" for t in spec["tolerations"])
            assert {"name": "JOBSKILLS_SERVE_GPUS", "value": "1"} in c["env"]
    assert set(served) == set(bento_routes)
    api_args = bento["jobskills-api"][2]
    assert set(api_args["depends"]) == {"keyword_tagger", "skill_groups"}
    for dep, url in api_args["depends"].items():
        m = re.fullmatch(r"http://([\w-]+):(\d+)", url)
        assert m and m.group(1) == served[dep], url
        assert int(m.group(2)) in {p["port"] for p in services[m.group(1)]["spec"]["ports"]}


def _grpc_env(env: dict[str, Any] | list) -> dict[str, str]:
    pairs = {e["name"]: e.get("value") for e in env} if isinstance(env, list) else dict(env)
    return {k: str(v) for k, v in pairs.items() if k.startswith("JOBSKILLS_SERVE_")}


def test_grpc_front_runs_beside_the_api_from_the_same_image():
    """k8s: a `grpc` container in the API pod, reaching the `api` container over the pod's loopback;
    compose: an `api-grpc` service reaching `api`. Both run `python -m services.rpc` (services/rpc/__main__.py)."""
    assert (REPO / "services" / "rpc" / "__main__.py").exists()
    pod = _pod_spec(_by_kind("Deployment")["jobskills-api"])
    containers = {c["name"]: c for c in pod["containers"]}
    api, grpc_c = containers["api"], containers["grpc"]
    assert grpc_c["image"] == api["image"]
    assert grpc_c["args"] == ["python", "-m", "services.rpc"] and "command" not in grpc_c  # keeps the entrypoint
    assert grpc_c["workingDir"] == "/home/bentoml/bento/src"  # where the Bento packs services/ and jobskills/
    env = _grpc_env(grpc_c["env"])
    port = int(env["JOBSKILLS_SERVE_GRPC_PORT"])
    assert env["JOBSKILLS_SERVE_GRPC_HOST"] == "0.0.0.0"
    assert env["JOBSKILLS_SERVE_REST_URL"] == f"http://127.0.0.1:{api['ports'][0]['containerPort']}"
    assert grpc_c["ports"] == [{"name": "grpc", "containerPort": port}]
    assert grpc_c["readinessProbe"]["grpc"]["port"] == port  # grpc.health.v1
    service_ports = {p["name"]: p for p in _by_kind("Service")["jobskills-api"]["spec"]["ports"]}
    assert service_ports["grpc"]["port"] == port and service_ports["grpc"]["targetPort"] == "grpc"

    svcs = _compose()["services"]
    front = svcs["api-grpc"]
    assert front["image"] == svcs["api"]["image"] and front["command"] == ["python", "-m", "services.rpc"]
    assert front["working_dir"] == grpc_c["workingDir"]
    env = _grpc_env(front["environment"])
    assert env["JOBSKILLS_SERVE_REST_URL"] == f"http://api:{BENTO_PORT}"
    assert front["ports"] == [f"127.0.0.1:{env['JOBSKILLS_SERVE_GRPC_PORT']}:{env['JOBSKILLS_SERVE_GRPC_PORT']}"]
    assert "grpc_health.v1" in " ".join(front["healthcheck"]["test"])


@functools.lru_cache(maxsize=1)
def _prefect_api_routes() -> frozenset[str]:
    from prefect.server.api.server import create_api_app

    # the OpenAPI paths: FastAPI includes routers lazily, so app.routes does not list them all
    return frozenset("/api" + p for p in create_api_app(ignore_cache=True).openapi()["paths"])


def test_prefect_server_and_worker_manifests():
    server = _by_kind("Deployment")["prefect-server"]
    (c,) = _pod_spec(server)["containers"]
    routes = _prefect_api_routes()
    for probe in ("readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"]["path"] in routes
    cm = _by_kind("ConfigMap")["jobskills-env"]["data"]
    port = c["ports"][0]["containerPort"]
    assert cm["PREFECT_API_URL"] == f"http://prefect-server:{port}/api"
    worker = _by_kind("Deployment")["prefect-worker"]
    (w,) = _pod_spec(worker)["containers"]
    assert w["command"][w["command"].index("--pool") + 1] == POOL
    assert w["command"][w["command"].index("--type") + 1] == "kubernetes"
    assert w["livenessProbe"]["httpGet"]["path"] == "/health"  # prefect.workers.server's route
    from prefect.workers.server import build_healthcheck_server  # noqa: F401  (serves /health)

    role = _by_kind("Role")["prefect-worker"]
    job_rule = next(r for r in role["rules"] if "jobs" in r["resources"])
    assert {"create", "delete", "watch"} <= set(job_rule["verbs"])
    assert _pod_spec(worker)["serviceAccountName"] == "prefect-worker"
    setup = _by_kind("Job")["prefect-setup"]
    cmd = " ".join(_pod_spec(setup)["containers"][0]["command"])
    assert f"work-pool create {POOL} --type kubernetes" in cmd and "prefect --no-prompt deploy --all" in cmd
    assert "/etc/prefect/work-pool-template.json" in cmd


# ---- the Kubernetes work pool's base job template ----------------------------------------------------

def _template() -> dict:
    return json.loads(TEMPLATE.read_text())


def test_work_pool_template_extends_prefect_kubernetes_default():
    pk = pytest.importorskip("prefect_kubernetes.worker", reason="prefect-kubernetes not installed (.[k8s])")
    default = pk.KubernetesWorker.get_default_base_job_template()
    ours = _template()
    assert set(default["variables"]["properties"]) <= set(ours["variables"]["properties"])
    assert set(default["job_configuration"]) == set(ours["job_configuration"])


def test_work_pool_template_renders_gpu_jobs():
    from prefect.utilities.templating import apply_values

    t = _template()
    props = t["variables"]["properties"]
    defaults = {k: v["default"] for k, v in props.items() if "default" in v}
    gpu_vars = _prefect_yaml()["definitions"]["work_pools"]["gpu"]["job_variables"]
    values = defaults | gpu_vars | {"image": "jobskills-flows:cuda"}
    job = apply_values(t["job_configuration"], values)["job_manifest"]
    pod = job["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert pod["nodeSelector"] == gpu_vars["node_selector"] and pod["tolerations"] == gpu_vars["tolerations"]
    claims = {v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]}
    assert claims <= set(_by_kind("PersistentVolumeClaim"))
    assert {m["mountPath"] for m in c["volumeMounts"]} == {"/data", "/bentoml"}
    cpu = apply_values(t["job_configuration"], defaults)["job_manifest"]["spec"]["template"]["spec"]
    assert cpu["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 0 and cpu["nodeSelector"] == {}
    assert defaults["image"].split(":")[0] == "jobskills-flows"
    assert defaults["namespace"] == _kustomization()["namespace"]


# ---- prefect.yaml ------------------------------------------------------------------------------------

def _flow_functions_in_repo() -> set[str]:
    """``flows/<file>.py:<function>`` for every function decorated with ``@flow`` in flows/."""
    out = set()
    for path in sorted((REPO / "flows").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for dec in node.decorator_list:
                    fn = dec.func if isinstance(dec, ast.Call) else dec
                    if isinstance(fn, ast.Name) and fn.id == "flow":
                        out.add(f"flows/{path.name}:{node.name}")
    return out


def _deployment_names() -> set[str]:
    return {f"{_load_entrypoint(d['entrypoint']).name}/{d['name']}" for d in _prefect_yaml()["deployments"]}


def _load_entrypoint(entrypoint: str):
    import importlib

    file, func = entrypoint.split(":")
    module = importlib.import_module(file.removesuffix(".py").replace("/", "."))
    return getattr(module, func)


def test_prefect_yaml_deploys_every_flow_with_valid_parameters_schedules_and_pool():
    import jsonschema
    from prefect import Flow
    from prefect.client.schemas.schedules import CronSchedule

    spec = _prefect_yaml()
    deps = spec["deployments"]
    entrypoints = {d["entrypoint"] for d in deps}
    assert entrypoints == _flow_functions_in_repo(), "every flow needs a deployment (and only real flows)"
    names = set()
    variables_schema = _template()["variables"]
    for d in deps:
        flow = _load_entrypoint(d["entrypoint"])
        assert isinstance(flow, Flow), d["entrypoint"]
        full = f"{flow.name}/{d['name']}"
        assert full not in names
        names.add(full)
        params = d.get("parameters") or {}
        assert set(params) <= set(flow.parameters.properties), f"{full}: unknown parameters"
        required = [p for p in flow.parameters.required or [] if p not in params]
        if not required:
            flow.validate_parameters(params)  # raises on ill-typed parameters
        for s in d.get("schedules") or []:
            CronSchedule(cron=s["cron"], timezone=s.get("timezone"))
        if required:
            assert not d.get("schedules"), f"{full} needs {required}: a schedule could never run"
        pool = d["work_pool"]
        assert pool["name"] == POOL
        jsonschema.validate(pool.get("job_variables") or {}, variables_schema)
    # the drift monitor starts a deployment that exists
    monitor = next(d for d in deps if d["entrypoint"].endswith(":monitor"))
    assert monitor["parameters"]["retrain_deployment"] in names
    scheduled = {d["entrypoint"].split(":")[0] for d in deps if d.get("schedules")}
    assert {"flows/ingest.py", "flows/validate.py", "flows/merge_labels.py", "flows/retrain.py",
            "flows/monitor.py"} <= scheduled


def test_prefect_yaml_deployment_names_match_local_serving():
    """``python -m flows.deployments`` (no server) and prefect.yaml (server) name deployments alike."""
    dep_mod = pytest.importorskip("flows.deployments")
    spec_names = _deployment_names()
    src = Path(dep_mod.__file__).read_text()
    local = set(re.findall(r"\* ``([\w-]+/[\w-]+)``", src))
    assert local and local <= spec_names, local - spec_names


# ---- docs/scale.md -------------------------------------------------------------------------------------

def _readme_scale_section() -> str:
    text = (REPO / "README.md").read_text()
    start = text.index("## Running at scale")
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def _doc_commands() -> list[str]:
    """Every command in docs/scale.md and in the README's "Running at scale" section."""
    text = (REPO / "docs" / "scale.md").read_text() + "\n" + _readme_scale_section()
    cmds = []
    for block in re.findall(r"```(?:bash|sh|console)?\n(.*?)```", text, re.S):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                cmds.append(line.split(" #")[0].strip())
    return cmds


def test_scale_doc_commands_refer_to_real_files_and_commands():
    cmds = _doc_commands()
    assert len(cmds) >= 8
    compose_services = set(_compose()["services"])
    deployments = _deployment_names()
    for cmd in cmds:
        words = shlex.split(cmd.replace("$(", "").replace(")", ""))
        while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # leading VAR=value assignments
            words = words[1:]
        for w in words:
            w = w.split("=", 1)[-1]
            if re.fullmatch(r"(infra|configs|flows|services|docs)/[\w./-]+|[\w-]+\.(ya?ml|json|sh)", w):
                assert (REPO / w).exists(), f"{cmd!r}: {w} does not exist"
        if words[:2] == ["docker", "compose"] and words[-1] not in {"-d", "up"}:
            assert words[-1] in compose_services, f"{cmd!r}: no compose service {words[-1]}"
        if words[:3] == ["prefect", "deployment", "run"]:
            assert words[3] in deployments, cmd
        if words[0] == "jobskills":
            from typer.main import get_command

            from jobskills.cli.main import app

            assert words[1] in get_command(app).commands, f"{cmd!r}: no such jobskills command"
        if words[0] == "python" and words[1] == "-m":
            __import__(words[2])


def test_the_dask_cluster_the_config_names_exists_and_its_workers_can_run_batch_extract():
    """k8s: JOBSKILLS_DASK_ADDRESS points at the dask-scheduler Service; the workers run the flows
    image (the flows' code and libraries), single-threaded, with the data volume (Parquet parts), the
    model store (the models) and the store's URL (the flow's store tasks run there too)."""
    env = next(o for o in _k8s_objects() if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "jobskills-env")
    assert env["data"]["JOBSKILLS_TASK_RUNNER"] == "dask"
    host, port = env["data"]["JOBSKILLS_DASK_ADDRESS"].removeprefix("tcp://").split(":")
    svc = _by_kind("Service")[host]
    assert int(port) in [p["port"] for p in svc["spec"]["ports"]]
    worker = _pod_spec(_by_kind("Deployment")["dask-worker"])
    (c,) = worker["containers"]
    assert c["image"] == "jobskills-flows" and c["command"][:3] == ["dask", "worker", env["data"]["JOBSKILLS_DASK_ADDRESS"]]
    assert c["command"][c["command"].index("--nthreads") + 1] == "1"
    assert {m["mountPath"] for m in c["volumeMounts"]} == {"/data", "/bentoml"}
    assert {"jobskills-env", "jobskills-db"} <= {next(iter(r.values()))["name"] for r in c["envFrom"]}
    compose = _compose()["services"]
    assert compose["dask-worker"]["profiles"] == ["dask"] and "dask-scheduler" in compose
    assert {v.split(":")[1] for v in compose["dask-worker"]["volumes"][:2]} == {"/data", "/bentoml"}
