"""Alembic environment: the engine is handed in by registry.db (no alembic.ini, no URL here)."""
from alembic import context

from registry.models import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    context.run_migrations()
