"""The migrations build the schema the models describe, on SQLite and PostgreSQL."""

import subprocess
import sys

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from robocall.db import Base
from robocall.schema import current_revision, head_revision


def test_migrations_reach_the_newest_revision(engine):
    assert current_revision(engine) == head_revision()
    tables = set(inspect(engine).get_table_names())
    assert {t.name for t in Base.metadata.sorted_tables} <= tables


def test_models_and_migrations_agree(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models and migrations differ; add a migration: {diff}"


def test_db_upgrade_creates_a_schema_on_an_empty_database(tmp_path, subprocess_env):
    env = dict(subprocess_env, ROBOCALL_DATABASE_URL=f"sqlite:///{tmp_path / 'new.sqlite3'}")
    result = subprocess.run(
        [sys.executable, "-m", "robocall.cli", "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert f"to {head_revision()}" in result.stdout
    again = subprocess.run(
        [sys.executable, "-m", "robocall.cli", "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "already at" in again.stdout


def test_a_process_on_an_unmigrated_database_stops_with_one_line(tmp_path, subprocess_env):
    env = dict(subprocess_env, ROBOCALL_DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    env.pop("ROBOCALL_AUTO_MIGRATE")
    for command in (["serve", "--port", "0"], ["worker"], ["scheduler"]):
        result = subprocess.run(
            [sys.executable, "-m", "robocall.cli", *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1, command
        lines = result.stderr.strip().splitlines()
        assert lines == [
            "error: the database schema is not up to date: run `robocall db upgrade` first"
        ]


def test_the_embedded_default_migrates_itself(tmp_path, subprocess_env):
    env = dict(subprocess_env)
    env.pop("ROBOCALL_DATABASE_URL")
    env.pop("ROBOCALL_AUTO_MIGRATE")
    env["ROBOCALL_VAR_DIR"] = str(tmp_path / "var")
    result = subprocess.run(
        [sys.executable, "-m", "robocall.cli", "units", "sample"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "var" / "robocall.sqlite3").exists()
    assert "5 created" in result.stdout
