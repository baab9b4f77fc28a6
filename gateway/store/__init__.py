"""Storage behind one interface: SQLite (embedded default) and PostgreSQL."""

from gateway.store.base import Conn, Migration, Store


def open_store(database: str) -> Store:
    """The store a DATABASE setting names: a postgresql:// URL, or a SQLite file path."""
    if database.startswith(("postgresql://", "postgres://")):
        from gateway.store.postgres import PostgresStore

        return PostgresStore(database)
    from gateway.store.sqlite import SqliteStore

    return SqliteStore(database)


__all__ = ["Conn", "Migration", "Store", "open_store"]
