"""Schema migrations with Alembic: upgrade, and the daemon's check at start-up."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

MIGRATIONS = Path(__file__).with_name("migrations")
MIGRATION_LOCK = 0x77697265  # "wire": the advisory lock key for schema changes


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Autogenerate filter: the search index's own structures (FTS5 virtual table and its
    shadow tables, the PostgreSQL GIN index) are not declared in the models."""
    from crawler.search_index import INDEX_OBJECTS

    return not (reflected and compare_to is None and (name or "").startswith(INDEX_OBJECTS))


class SchemaError(RuntimeError):
    """The database schema is not what this version of wirewatch needs."""


def alembic_config(engine: Engine | None = None, url: str | None = None) -> AlembicConfig:
    """An Alembic config pointing at wirewatch's migrations."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    """The newest migration this version ships."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an unmanaged database."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision``."""
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def ensure_schema(engine: Engine) -> bool:
    """Upgrade an empty database; refuse one that is behind or unknown. True if it upgraded.

    On PostgreSQL an advisory lock makes daemons that start together migrate only once.
    """
    if engine.dialect.name != "postgresql":
        return _ensure_schema(engine)
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
        try:
            return _ensure_schema(engine)
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
            conn.commit()


def _ensure_schema(engine: Engine) -> bool:
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return False
    if current is None:
        tables = set(inspect(engine).get_table_names())
        if tables:
            raise SchemaError(
                f"the database has tables ({', '.join(sorted(tables)[:5])}…) but no wirewatch "
                "schema version; point database_url at an empty or wirewatch database"
            )
        upgrade(engine)
        return True
    raise SchemaError(
        f"database schema is at revision {current}, this wirewatch needs {head}: "
        "run `wirewatch db upgrade`"
    )
