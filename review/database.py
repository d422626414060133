"""Connecting to the review database, and bringing tables made by older versions up to date.

One SQLAlchemy engine per URL and process (the sink and the reviewer app share it). SQLite runs in WAL mode with
synchronous=FULL, so a committed decision survives a crash of the server, and a busy timeout lets several workers
write; PostgreSQL connections are checked before use (pool_pre_ping), so a restarted server is reconnected to.
Tables are created on first use (review/store.py: ReviewStore.ensure_schema), then `add_columns` adds what newer
versions added to `review_items`, empty: upgrading never needs a migration tool.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Engine, create_engine, event

from review.models import APPEAL_COLUMNS, THREAD_COLUMNS


def engine_for(url: str, busy_timeout_s: float = 10.0) -> Engine:
    """One engine per URL and process (the sink and the reviewer app share it).

    SQLite waits up to `busy_timeout_s` for another writer's lock before "database is locked".
    """
    return _engine(url, float(busy_timeout_s))  # engine_for(url) and engine_for(url, 10.0) are one engine


@cache
def _engine(url: str, busy_timeout_s: float) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": busy_timeout_s, "check_same_thread": False})

        def pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
                cursor.execute(f"PRAGMA {pragma}")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            cursor.close()

        event.listen(engine, "connect", pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def add_columns(engine: Any) -> None:
    """Queues created by older versions lack columns added since (additive: each is added empty, and indexed).

    `explanation` (issue 14); `kind`, `thread_id`, `author_hash`, `repeat_author` (issue 21, models.THREAD_COLUMNS);
    `appeal_of` (unique: one appeal per post) and `appeal_outcome` (issue 21, models.APPEAL_COLUMNS).
    """
    from sqlalchemy import inspect, text

    present = {column["name"] for column in inspect(engine).get_columns("review_items")}
    wanted = {"explanation": "JSON", **THREAD_COLUMNS, **APPEAL_COLUMNS}
    with engine.begin() as connection:
        for name, ddl in wanted.items():
            if name not in present:
                connection.execute(text(f"ALTER TABLE review_items ADD COLUMN {name} {ddl}"))
        for name in ("thread_id", "author_hash"):
            connection.execute(text(f"CREATE INDEX IF NOT EXISTS ix_review_items_{name} ON review_items ({name})"))
        connection.execute(
            text("CREATE UNIQUE INDEX IF NOT EXISTS ix_review_items_appeal_of ON review_items (appeal_of)")
        )
