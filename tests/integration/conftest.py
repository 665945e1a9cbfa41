"""Fixtures shared by the integration tests."""
import pytest
from click.testing import CliRunner

from indexing import rebuild
from webapp.cli import main

from ..support.accounts import TEST_SECRET_KEY
from .helpers import ALIAS, CHECKPOINT, add_child


@pytest.fixture
def run(settings, es):
    """Invoke the `contactpoint` CLI against this test's database and cluster."""
    env = {"CONTACTPOINT_DATABASE_URL": settings.database_url, "CONTACTPOINT_ES_URL": settings.es_url,
           "CONTACTPOINT_STATE_DIR": str(settings.state_dir), "CONTACTPOINT_RETENTION_YEARS": None,
           "CONTACTPOINT_SECRET_KEY": TEST_SECRET_KEY}

    def invoke(*args, input=None, **extra_env):
        return CliRunner().invoke(main, list(args), input=input, env={**env, **extra_env}, catch_exceptions=False)
    return invoke


@pytest.fixture
def indexed(es, sessions):
    """Add children through the registry and bring the index up to date."""
    def make(*children):
        ids = [add_child(sessions, **child) for child in children]
        rebuild(es, sessions, ALIAS, CHECKPOINT)
        return ids
    return make
