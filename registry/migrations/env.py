"""Alembic environment: the engine is handed in by registry.db (no alembic.ini, no URL here)."""
from alembic import context

# One metadata for the whole schema: access_control.models declares its tables (users, tokens, audit, usage
# counters) on this same Base. Upgrades run the hand-written versions and never compare with it; to autogenerate a
# revision, import access_control.models first (registry itself must not: it stands below access_control).
from registry.models import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    context.run_migrations()
