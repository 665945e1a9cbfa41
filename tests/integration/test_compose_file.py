"""docker-compose.yml: valid for docker-compose with the example env file, and built as the deployment needs.

The checks read `docker-compose config`'s resolved output (anchors merged, variables substituted), i.e. what
docker-compose would run. docker-compose is a Debian package scripts/bootstrap installs: without it these fail.
"""
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_ENV = ROOT / "deploy" / "env.example"
ES_NODES = ("es01", "es02", "es03")
APP_SERVICES = ("web", "indexer-1", "indexer-2")


def compose(env_file: Path, *args: str) -> subprocess.CompletedProcess:
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is not installed: run scripts/bootstrap as root (Debian package docker-compose)"
    return subprocess.run([binary, "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yml"),
                           "--env-file", str(env_file), "config", *args],
                          capture_output=True, text=True, timeout=60)


def volume_source(volume) -> str:
    # docker-compose 1.x prints the short syntax ("name:/path:rw"), 2.x the long one.
    return volume["source"] if isinstance(volume, dict) else volume.split(":", 1)[0]


@pytest.fixture(scope="module")
def config() -> dict:
    done = compose(EXAMPLE_ENV)
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


def test_the_file_is_valid_with_the_example_env_file():
    done = compose(EXAMPLE_ENV, "-q")
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("secret", ["ELASTIC_PASSWORD", "POSTGRES_PASSWORD", "CONTACTPOINT_SECRET_KEY",
                                    "CONTACTPOINT_AUDIT_KEY", "CONTACTPOINT_TOTP_KEY"])
def test_a_missing_secret_is_refused_naming_it(tmp_path, secret):
    env = tmp_path / "partial.env"
    env.write_text("".join(line + "\n" for line in EXAMPLE_ENV.read_text().splitlines()
                           if not line.startswith(secret + "=")))
    done = compose(env, "-q")
    assert done.returncode != 0
    assert f"set {secret} in the env file" in done.stderr


def test_three_elasticsearch_nodes_with_security_on_from_the_pinned_official_image(config):
    services = config["services"]
    for name in ES_NODES:
        node = services[name]
        assert node["image"].startswith("docker.elastic.co/elasticsearch/elasticsearch:8.19.")
        env = node["environment"]
        assert env["xpack.security.enabled"] == "true"
        assert env["xpack.security.http.ssl.enabled"] == "true"
        assert env["xpack.security.transport.ssl.enabled"] == "true"
        assert env["ELASTIC_PASSWORD"] != ""
        assert env["cluster.initial_master_nodes"] == "es01,es02,es03"
        assert "healthcheck" in node
        assert node["depends_on"]["es-certs"]["condition"] == "service_completed_successfully"
    assert {services[name]["environment"]["node.name"] for name in ES_NODES} == set(ES_NODES)


def test_every_image_is_pinned_never_latest(config):
    for name, service in config["services"].items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest" and "/" not in tag, f"{name}: {image}"
    assert config["services"]["postgres"]["image"].startswith("postgres:16.")


def test_the_migration_runs_first_and_the_app_waits_for_it_and_the_cluster(config):
    services = config["services"]
    assert services["migrate"]["command"] == ["contactpoint", "db", "upgrade"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in APP_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert all(depends[node]["condition"] == "service_healthy" for node in ES_NODES)


def test_two_indexer_followers_and_the_web_app_under_gunicorn(config):
    services = config["services"]
    followers = [name for name, service in services.items()
                 if service.get("command") == ["contactpoint", "index", "sync", "--follow"]]
    assert sorted(followers) == ["indexer-1", "indexer-2"]
    assert "command" not in services["web"]  # the image's CMD: gunicorn with gunicorn.conf.py
    cmd = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["gunicorn", "-c", "gunicorn.conf.py"' in cmd and "\nUSER contactpoint\n" in cmd


def test_a_notifier_sends_notifications_once_the_schema_is_migrated(config):
    notifier = config["services"]["notifier"]
    assert notifier["command"] == ["contactpoint", "notifications", "send", "--follow"]
    assert notifier["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "CONTACTPOINT_SMTP_URL" in notifier["environment"] and notifier["environment"]["CONTACTPOINT_MAIL_FROM"]


def test_the_app_reaches_the_cluster_over_tls_with_credentials(config):
    for name in APP_SERVICES + ("migrate",):
        env = config["services"][name]["environment"]
        assert all(url.startswith("https://") for url in env["CONTACTPOINT_ES_URL"].split(","))
        assert env["CONTACTPOINT_ES_CA_CERTS"] == "/certs/ca/ca.crt"
        assert env["CONTACTPOINT_ES_PASSWORD"] and env["CONTACTPOINT_SECRET_KEY"]


def test_health_checks_and_named_volumes(config):
    services = config["services"]
    for name in ES_NODES + ("postgres", "web"):
        assert services[name]["healthcheck"]["test"], name
    assert set(config["volumes"]) >= {"es-certs", "es-data-01", "es-data-02", "es-data-03", "postgres-data"}
    data = {name: [volume_source(v) for v in services[name]["volumes"]] for name in ES_NODES + ("postgres",)}
    assert data["postgres"] == ["postgres-data"]
    assert all("es-certs" in data[name] for name in ES_NODES)
    for number, name in enumerate(ES_NODES, 1):
        assert f"es-data-0{number}" in data[name]
