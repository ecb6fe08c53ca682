"""deploy/compose.yaml, checked statically: no Docker engine runs where the tests run.

Every `candor` command is a real subcommand, every CANDOR_ variable a real setting, every
healthcheck a real route, every dependency a service that can satisfy its condition, and
no secret is written into the file.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import DEPLOY, REPO
from tests.deploy.files import env_file_names, http_routes, is_candor_command, unknown_settings

COMPOSE = DEPLOY / "compose.yaml"
SECRET_WORDS = re.compile(r"SECRET|TOKEN|PASSWORD|_KEY", re.IGNORECASE)


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def candor_image_services() -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in services().items()
        if service.get("build", {}).get("target") == "runtime"
    }


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(key): str(value) for key, value in env.items()}


def test_the_scaled_layout_is_all_there() -> None:
    found = services()
    assert {"postgres", "redis", "migrate", "api", "worker", "proxy"} <= found.keys()
    assert found["api"]["deploy"]["replicas"] >= 2
    assert found["worker"]["deploy"]["replicas"] >= 2
    assert found["migrate"]["restart"] == "no"
    assert found["migrate"]["command"] == ["db", "upgrade"]
    for optional in ("rasa", "actions"):
        assert found[optional]["profiles"] == ["rasa"]
    for name, service in found.items():
        assert "profiles" in service or name not in {"rasa", "actions"}


@pytest.mark.parametrize("name", sorted(candor_image_services()))
def test_each_candor_service_runs_a_real_candor_command(name: str) -> None:
    service = candor_image_services()[name]
    if "entrypoint" in service:
        # the action server: python -m rasa_sdk --actions actions, from the same image
        assert service["entrypoint"][:3] == ["python", "-m", "rasa_sdk"]
        assert service["entrypoint"][service["entrypoint"].index("--actions") + 1] == "actions"
        assert (REPO / "actions" / "__init__.py").is_file()
        return
    assert is_candor_command(tuple(service["command"])), service["command"]


def test_the_command_check_refuses_what_candor_does_not_have() -> None:
    assert not is_candor_command(("serve", "--replicas", "2"))
    assert not is_candor_command(("migrate",))
    assert is_candor_command(("worker",))


def test_every_candor_variable_is_a_real_setting() -> None:
    used: set[str] = set()
    for service in services().values():
        used |= environment(service).keys()
    used |= env_file_names(DEPLOY / ".env.example")
    assert used, "nothing was read"
    assert unknown_settings(used) == set()
    assert unknown_settings({"CANDOR_DATABASE_URI"}) == {"CANDOR_DATABASE_URI"}


def test_every_interpolated_variable_is_in_the_env_example() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    interpolated = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", text))
    assert interpolated
    assert interpolated - env_file_names(DEPLOY / ".env.example") == set()


def test_no_secret_is_written_into_the_file() -> None:
    for name, service in services().items():
        for key, value in environment(service).items():
            if SECRET_WORDS.search(key):
                assert value.startswith("${"), f"{name}: {key} must come from deploy/.env"
        assert not any(SECRET_WORDS.search(key) for key in service.get("build", {}).get("args", {}))
    for line in (DEPLOY / ".env.example").read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("=")
        if SECRET_WORDS.search(key) and not line.startswith("#"):
            assert value == "", f"deploy/.env.example gives {key} a value"


def test_healthchecks_ask_real_routes_on_the_served_port() -> None:
    routes = http_routes()
    api = services()["api"]
    port = api["command"][api["command"].index("--port") + 1]
    [url] = re.findall(r"http://127\.0\.0\.1:(\d+)(/\w+)", " ".join(api["healthcheck"]["test"]))
    assert url == (port, "/readyz")
    assert "/readyz" in routes
    assert "/healthz" in routes


def test_service_healthy_waits_only_on_services_with_a_healthcheck() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    found = services()
    for name, service in found.items():
        for target, rule in (service.get("depends_on") or {}).items():
            assert target in found, f"{name} depends on missing {target}"
            if rule["condition"] == "service_healthy":
                check = found[target].get("healthcheck", {})
                assert not check.get("disable"), f"{name} waits on {target}'s disabled check"
                from_image = found[target].get("build", {}).get("target") == "runtime"
                assert check.get("test") or (from_image and "HEALTHCHECK" in dockerfile)
            elif rule["condition"] == "service_completed_successfully":
                assert found[target]["restart"] == "no", f"{target} is not a one-shot"
            else:
                pytest.fail(f"{name}: unexpected condition {rule['condition']}")
            if "profiles" in found[target] and "profiles" not in service:
                assert rule.get("required") is False, f"{name} needs optional {target}"


def test_api_and_workers_start_after_migrations_postgres_and_redis() -> None:
    for name in ("api", "worker"):
        depends = services()[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"


def test_the_metrics_directory_is_one_volume_shared_by_api_and_workers() -> None:
    declared = compose()["volumes"]
    for name in ("api", "worker"):
        service = services()[name]
        directory = environment(service)["CANDOR_METRICS_DIR"]
        assert f"metrics:{directory}" in service["volumes"]
    assert declared["metrics"]["driver_opts"]["type"] == "tmpfs"
    for service in services().values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith("."):
                assert source in declared, source
            else:
                assert (DEPLOY / source).exists(), source


def test_containers_sharing_the_metrics_volume_have_their_own_host_names() -> None:
    """The metric files are named `<kind>_<host>-<pid>.db` and every container runs Candor
    as PID 1: a fixed `hostname` shared by replicas (or by two services) would make them
    write the same files. Compose's default, the container id, is each one's own."""
    for name, service in services().items():
        if any(volume.startswith("metrics:") for volume in service.get("volumes", [])):
            assert "hostname" not in service, name
            assert "pid" not in service, name  # no shared PID namespace is needed


def test_only_the_proxy_network_is_trusted_for_forwarded_headers() -> None:
    [subnet] = [c["subnet"] for c in compose()["networks"]["backend"]["ipam"]["config"]]
    for name, service in candor_image_services().items():
        assert environment(service)["CANDOR_TRUSTED_PROXIES"] == subnet, name
    assert "ports" not in services()["api"], "the API is reached through the proxy only"


def test_the_proxy_forwards_to_the_api_port() -> None:
    caddyfile = (DEPLOY / "caddy" / "Caddyfile").read_text(encoding="utf-8")
    api = services()["api"]
    port = api["command"][api["command"].index("--port") + 1]
    assert re.search(rf"dynamic a \{{\s*name api\s*port {port}\b", caddyfile)


def test_candor_is_the_console_script_the_images_run() -> None:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["scripts"]["candor"] == "candor.cli:main"
