"""Shared fixtures: one real Elasticsearch node and one real PostgreSQL per test session.

Set CONTACTPOINT_ES_URL or CONTACTPOINT_TEST_POSTGRES_URL to use existing servers instead.
State is wiped between tests: each test gets fresh databases and an empty cluster.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import uuid
from pathlib import Path

import psycopg
import pytest
from elasticsearch import Elasticsearch
from werkzeug.serving import make_server

from registry.db import make_engine, make_sessionmaker, upgrade
from search_service.engine import LocalEngine
from webapp.config import Settings

from .support.accounts import ACTING_FOR, TEST_SECRET_KEY, add_token
from .support.postgres import LocalPostgres


@pytest.fixture(scope="session")
def es_url():
    if os.environ.get("CONTACTPOINT_ES_URL"):
        yield os.environ["CONTACTPOINT_ES_URL"]
        return
    defaults = Settings.from_env({})
    node = LocalEngine(Path(tempfile.mkdtemp(prefix="cp-test-es-")), defaults.cache_dir,
                       version=os.environ.get("CONTACTPOINT_ES_VERSION"))
    info = node.start()
    yield info.url
    node.stop()
    shutil.rmtree(node.node_dir, ignore_errors=True)


@pytest.fixture
def es(es_url):
    client = Elasticsearch(es_url, request_timeout=30)
    yield client
    # Wipe what the test made: indices, aliases and our templates.
    client.indices.delete(index="children*,test-*", ignore_unavailable=True, allow_no_indices=True,
                          expand_wildcards="all")
    for template in client.indices.get_index_template().get("index_templates", []):
        if template["name"].startswith(("children", "test-")):
            client.indices.delete_index_template(name=template["name"])
    client.close()


@pytest.fixture(scope="session")
def postgres_server():
    """The session's own PostgreSQL (None when an external one is configured)."""
    if os.environ.get("CONTACTPOINT_TEST_POSTGRES_URL"):
        yield None
        return
    server = LocalPostgres()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server):
    return postgres_server.url if postgres_server else os.environ["CONTACTPOINT_TEST_POSTGRES_URL"]


@pytest.fixture(scope="session")
def postgres_template(postgres_url):
    """A migrated template database; each test copies it (much faster than migrating)."""
    name = f"cp_template_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(postgres_url.rsplit("/", 1)[0] + f"/{name}")
    upgrade(engine)
    engine.dispose()
    yield name
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'contactpoint.sqlite3'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    server = request.getfixturevalue("postgres_url")
    template = request.getfixturevalue("postgres_template")
    name = f"cp_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield server.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db_engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(db_engine):
    """Sessions carrying the audit key that the `settings` fixture's apps and CLI runs derive too."""
    key = Settings.from_env({}).replace(secret_key=TEST_SECRET_KEY).key("audit")
    return make_sessionmaker(db_engine, info={"audit_key": key})


@pytest.fixture
def settings(database_url, es_url, tmp_path):
    return Settings.from_env({}).replace(state_dir=tmp_path / "state", database_url=database_url, es_url=es_url,
                                        secure_cookies=False, secret_key=TEST_SECRET_KEY)


@pytest.fixture
def app(settings, es):
    from webapp import create_app

    app = create_app({"SETTINGS": settings, "TESTING": True})
    yield app
    app.extensions["contactpoint"]["engine"].dispose()


@pytest.fixture
def live_server(app):
    """The app served on 127.0.0.1 by a real HTTP server (threaded), for browsers and contract tests."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def anonymous(app):
    """A test client with no credentials."""
    return app.test_client()


@pytest.fixture
def api_token(sessions):
    """A case-management system's token (search and view) in authority E09000001, with its practitioner."""
    return add_token(sessions, "case-system")


@pytest.fixture
def client(app, api_token):
    """A test client calling as a case-management system acting for a named practitioner (ACTING_FOR)."""
    client = app.test_client()
    client.environ_base.update(HTTP_AUTHORIZATION=f"Bearer {api_token}", HTTP_X_ACTING_FOR=ACTING_FOR)
    return client
