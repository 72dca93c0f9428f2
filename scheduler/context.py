"""What every command needs: the loaded config and a ready database."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from crawler.db import make_engine, session_factory
from scheduler.config import Config, load_config
from scheduler.migrate import ensure_schema


@dataclass
class AppContext:
    """Config plus a lazily opened, schema-checked database."""

    config: Config
    _engine: Engine | None = field(default=None, repr=False)

    @classmethod
    def load(cls, config_dir: str | None = None) -> AppContext:
        """Load the config directory (raises ConfigError)."""
        return cls(load_config(config_dir))

    @property
    def engine(self) -> Engine:
        """The database engine; an empty database is migrated on first use."""
        if self._engine is None:
            self._engine = make_engine(self.config.database_url)
            ensure_schema(self._engine)
        return self._engine

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        """Session factory bound to the engine."""
        return session_factory(self.engine)

    def close(self) -> None:
        """Dispose of the engine's connections."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
