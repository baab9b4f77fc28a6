"""Storage behind one interface: SQLite (embedded default) and PostgreSQL."""

from gateway.store.base import Conn, Migration, Store, StoreUnavailable


def open_store(database: str, sqlite_synchronous: str = "full", shared: bool = False) -> Store:
    """The store a DATABASE setting names: a postgresql:// URL, or a SQLite file path (with
    the `sqlite_synchronous` setting: "full" or "normal", and `shared`: other processes of
    this serve write the file too)."""
    if database.startswith(("postgresql://", "postgres://")):
        # lazy: asyncpg is an optional dependency, needed only for a postgresql:// URL
        from gateway.store.postgres import PostgresStore

        try:
            return PostgresStore(database)
        except ValueError as exc:  # a parameter of ours in the URL, e.g. pool_size
            raise StoreUnavailable(f"database URL: {exc}") from None
    from gateway.store.sqlite import SqliteStore  # lazy: like the PostgreSQL store

    return SqliteStore(database, synchronous=sqlite_synchronous, shared=shared)


__all__ = ["Conn", "Migration", "Store", "StoreUnavailable", "open_store"]
