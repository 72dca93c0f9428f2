"""What every command needs: the loaded config and a ready database."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from scheduler.config import Config, load_config

# The database modules load on first use: commands that only read the config stay light.
if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker


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
            from crawler.db import make_engine
            from scheduler.migrate import ensure_schema

            self._engine = make_engine(self.config.database_url)
            ensure_schema(self._engine)
        return self._engine

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        """Session factory bound to the engine."""
        from crawler.db import session_factory

        return session_factory(self.engine)

    @cached_property
    def read_sessions(self) -> sessionmaker[Session]:
        """Sessions for listing commands: on SQLite they never wait for the daemon's writes."""
        from crawler.db import make_reader, session_factory

        return session_factory(make_reader(self.engine))

    def close(self) -> None:
        """Dispose of the engines' connections."""
        reader = self.__dict__.pop("read_sessions", None)
        if reader is not None:
            reader.kw["bind"].dispose()
        self.__dict__.pop("sessions", None)
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
