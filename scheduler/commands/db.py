"""``wirewatch db``: create or migrate the database schema, fill the search index."""

from __future__ import annotations

from typing import Annotated

import typer

from scheduler.commands.app import ConfigOption, app, fail, open_context, out

db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(
    config: ConfigOption = None,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Create or migrate the database schema."""
    from crawler.db import make_engine
    from scheduler.migrate import current_revision, upgrade

    ctx = open_context(config)
    engine = make_engine(ctx.config.database_url)
    try:
        before = current_revision(engine)
        upgrade(engine, revision)
        after = current_revision(engine)
    except Exception as exc:  # a driver error is best shown as one line
        raise fail(f"database upgrade failed: {exc}") from None
    finally:
        engine.dispose()
    out.print(f"database at revision {after} (was {before or 'empty'})")


@db_app.command("reindex")
def db_reindex(
    config: ConfigOption = None,
    rebuild: Annotated[
        bool, typer.Option("--all", help="Rebuild every article's key, not only missing ones.")
    ] = False,
) -> None:
    """Fill the search index for articles it lacks (or rebuild it), committing as it goes."""
    from crawler.db import make_engine
    from crawler.search_index import reindex_batch

    ctx = open_context(config)
    engine = make_engine(ctx.config.database_url)
    done, last = 0, 0
    try:
        while True:
            with engine.begin() as conn:
                count, last = reindex_batch(conn, last, everything=rebuild)
            if not count:
                break
            done += count
    except Exception as exc:  # a driver error is best shown as one line
        raise fail(f"reindex failed after {done} articles: {exc}") from None
    finally:
        engine.dispose()
    out.print(f"indexed {done} article(s) for search")
