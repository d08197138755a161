"""Schema migrations (Alembic) run from robocall's own commands."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from robocall.config import PROJECT_ROOT, get_settings
from robocall.db import get_engine

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


class SchemaNotReady(RuntimeError):
    """The database is not at the newest migration."""


def alembic_config() -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine | None = None) -> str | None:
    with (engine or get_engine()).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine | None = None, revision: str = "head") -> None:
    """Bring the database to `revision` (default: the newest)."""
    config = alembic_config()
    with (engine or get_engine()).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def ensure_schema() -> None:
    """At process start: migrate the embedded database, or stop with a clear message."""
    if current_revision() == head_revision():
        return
    if get_settings().should_auto_migrate:
        upgrade()
        return
    raise SchemaNotReady("the database schema is not up to date: run `robocall db upgrade` first")
