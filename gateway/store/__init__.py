"""Storage behind one interface: SQLite (embedded default) and PostgreSQL."""

from gateway.store.base import Conn, Migration, Store, StoreUnavailable


def open_store(database: str) -> Store:
    """The store a DATABASE setting names: a postgresql:// URL, or a SQLite file path."""
    if database.startswith(("postgresql://", "postgres://")):
        # lazy: asyncpg is an optional dependency, needed only for a postgresql:// URL
        from gateway.store.postgres import PostgresStore

        try:
            return PostgresStore(database)
        except ValueError as exc:  # a parameter of ours in the URL, e.g. pool_size
            raise StoreUnavailable(f"database URL: {exc}") from None
    from gateway.store.sqlite import SqliteStore  # lazy: like the PostgreSQL store

    return SqliteStore(database)


__all__ = ["Conn", "Migration", "Store", "StoreUnavailable", "open_store"]
