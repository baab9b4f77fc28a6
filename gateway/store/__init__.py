"""Storage behind one interface: SQLite (embedded default) and PostgreSQL."""

from gateway.store.base import Conn, Migration, Store


def open_store(database: str, sqlite_synchronous: str = "full") -> Store:
    """The store a DATABASE setting names: a postgresql:// URL, or a SQLite file path (with
    the `sqlite_synchronous` setting: "full" or "normal")."""
    if database.startswith(("postgresql://", "postgres://")):
        # lazy: asyncpg is an optional dependency, needed only for a postgresql:// URL
        from gateway.store.postgres import PostgresStore

        return PostgresStore(database)
    from gateway.store.sqlite import SqliteStore  # lazy: like the PostgreSQL store

    return SqliteStore(database, synchronous=sqlite_synchronous)


__all__ = ["Conn", "Migration", "Store", "open_store"]
