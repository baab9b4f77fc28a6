"""Providers and credentials: the queries, shared by both stores."""

from __future__ import annotations

import msgspec

from gateway.store.base import Conn, CredentialRow, ProviderRow

_json = msgspec.json


def _provider(row: dict | None) -> ProviderRow | None:
    if row is None:
        return None
    return ProviderRow(
        id=row["id"], name=row["name"], plugin=row["plugin"], auth_kind=row["auth_kind"],
        settings=_json.decode(row["settings"]) if isinstance(row["settings"], (str, bytes))
        else dict(row["settings"]), created_at=row["created_at"],
        schema_tag=row.get("schema_tag") or "",
    )


async def insert_provider(conn: Conn, provider: ProviderRow) -> None:
    await conn.execute(
        "INSERT INTO providers (id, name, plugin, auth_kind, settings, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (provider.id, provider.name, provider.plugin, provider.auth_kind,
         _json.encode(provider.settings).decode(), provider.created_at),
    )


async def update_provider(conn: Conn, provider: ProviderRow) -> None:
    await conn.execute(
        "UPDATE providers SET name = ?, plugin = ?, auth_kind = ?, settings = ? WHERE id = ?",
        (provider.name, provider.plugin, provider.auth_kind,
         _json.encode(provider.settings).decode(), provider.id),
    )


async def delete_provider(conn: Conn, provider_id: str) -> None:
    await conn.execute("DELETE FROM credentials WHERE provider_id = ?", (provider_id,))
    await conn.execute("DELETE FROM providers WHERE id = ?", (provider_id,))


async def get_provider(conn: Conn, provider_id: str) -> ProviderRow | None:
    return _provider(await conn.fetchone("SELECT * FROM providers WHERE id = ?", (provider_id,)))


async def find_provider(conn: Conn, id_or_name: str) -> ProviderRow | None:
    """The provider with this id, else the one with this name (ignoring case)."""
    return _provider(await conn.fetchone(
        "SELECT * FROM providers WHERE id = ? OR lower(name) = lower(?)"
        " ORDER BY id = ? DESC LIMIT 1",
        (id_or_name, id_or_name, id_or_name),
    ))


async def list_providers(conn: Conn) -> list[ProviderRow]:
    rows = await conn.fetchall("SELECT * FROM providers ORDER BY created_at, id")
    return [p for p in map(_provider, rows) if p is not None]


async def insert_credential(conn: Conn, cred: CredentialRow) -> None:
    await conn.execute(
        "INSERT INTO credentials (id, provider_id, kind, username, secret_hash, created_at,"
        " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (cred.id, cred.provider_id, cred.kind, cred.username, cred.secret_hash,
         cred.created_at, cred.expires_at),
    )


async def live_credentials(conn: Conn, provider_id: str, now: str,
                           kinds: list[str] | None = None) -> list[CredentialRow]:
    """The provider's unrevoked, unexpired credentials (of ``kinds``, when given)."""
    sql = ("SELECT id, provider_id, kind, username, secret_hash, created_at, expires_at"
           " FROM credentials WHERE provider_id = ? AND revoked_at IS NULL"
           " AND (expires_at IS NULL OR expires_at > ?)")
    args: list = [provider_id, now]
    if kinds is not None:
        sql += " AND kind IN (" + ", ".join("?" for _ in kinds) + ")"
        args += kinds
    return [CredentialRow(**row) for row in await conn.fetchall(sql, args)]


async def credential_issued_at(conn: Conn, provider_id: str) -> str | None:
    """When the provider's current credential was issued: the newest of its standing ones
    (no expiry, not revoked; the credentials_standing index). A rotation moves it."""
    found = await conn.fetchval(
        "SELECT max(created_at) FROM credentials WHERE provider_id = ?"
        " AND expires_at IS NULL AND revoked_at IS NULL", (provider_id,))
    return None if found is None else str(found)


_CREDENTIAL_AS = ("c.provider_id AS c_pid, c.id AS c_id, c.kind AS c_kind,"
                  " c.username AS c_username, c.secret_hash AS c_hash,"
                  " c.created_at AS c_created, c.expires_at AS c_expires,"
                  " c.revoked_at AS c_revoked")


async def credential_lookup(conn: Conn, provider_id: str, secret_hash: str
                            ) -> tuple[ProviderRow | None, list[CredentialRow]]:
    """The provider named by a request, in one query that runs on every SCIM request, with
    two sets of its credentials: those whose hash is ``secret_hash`` (live or not, so that a
    refusal can say why), found through the hash index; and its standing ones (no expiry,
    not revoked: the handful issued by ``issue_credential``, which a plugin's own kind may
    check however it likes), found through a partial index. Expiring credentials (access
    tokens, one per token request) are only ever found by their hash.

    An id that names no provider costs what an existing one does: the query reads a stand-in
    instead (the first provider, and its standing credentials), which is decoded like the
    named one and then dropped, so neither the database's work nor ours tells which ids
    exist. Only the named provider and credentials of the named id are ever returned."""
    rows = await conn.fetchall(
        "SELECT p.id, p.name, p.plugin, p.auth_kind, p.settings, p.created_at, p.schema_tag,"
        f" p.id = CAST(? AS TEXT) AS named, {_CREDENTIAL_AS}"
        " FROM (SELECT max(id) AS id FROM providers WHERE id = ?) n"
        " CROSS JOIN (SELECT min(id) AS id FROM providers) f"
        " LEFT JOIN providers p ON p.id = coalesce(n.id, f.id)"
        " LEFT JOIN credentials c ON c.provider_id = p.id AND c.expires_at IS NULL"
        " AND c.revoked_at IS NULL AND c.secret_hash <> ?"
        " UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
        f" {_CREDENTIAL_AS} FROM credentials c WHERE c.secret_hash = ? AND c.provider_id = ?",
        (provider_id, provider_id, secret_hash, secret_hash, provider_id),
    )
    head = next((r for r in rows if r["id"] is not None), None)  # the provider's rows
    provider = _provider(head) if head is not None else None
    credentials = [
        (r["c_pid"], CredentialRow(
            id=r["c_id"], provider_id=provider_id, kind=r["c_kind"],
            username=r["c_username"], secret_hash=r["c_hash"], created_at=r["c_created"],
            expires_at=r["c_expires"], revoked_at=r["c_revoked"]))
        for r in rows if r["c_id"] is not None
    ]
    own = [cred for pid, cred in credentials if pid == provider_id]
    return (provider if head is not None and head["named"] else None), own


async def credential_version(conn: Conn) -> int:
    """The counter every change of a provider or a credential moves (triggers of migration
    0009): what a process's remembered credential checks are valid for."""
    return int(await conn.fetchval("SELECT n FROM credential_version WHERE id = 1"))


async def prune_expired(conn: Conn, provider_id: str, kind: str, before: str,
                        limit: int) -> int:
    """Delete up to ``limit`` of the provider's credentials of ``kind`` that expired or were
    revoked before ``before``; returns how many."""
    return await conn.execute(
        "DELETE FROM credentials WHERE id IN (SELECT id FROM credentials"
        " WHERE provider_id = ? AND kind = ? AND expires_at IS NOT NULL"
        " AND (expires_at < ? OR revoked_at < ?) LIMIT ?)",
        (provider_id, kind, before, before, limit))


async def revoke_credentials(conn: Conn, provider_id: str, kinds: list[str], now: str) -> int:
    marks = ", ".join("?" for _ in kinds)
    return await conn.execute(
        f"UPDATE credentials SET revoked_at = ? WHERE provider_id = ? AND kind IN ({marks})"
        " AND revoked_at IS NULL",
        (now, provider_id, *kinds),
    )


async def revoke_all(conn: Conn, provider_id: str, now: str) -> None:
    """Every live credential of the provider stops now (a rotation)."""
    await conn.execute(
        "UPDATE credentials SET revoked_at = ? WHERE provider_id = ? AND revoked_at IS NULL",
        (now, provider_id))


async def owned_count(conn: Conn, provider_id: str) -> int:
    """Users and groups the provider owns (deleted ones kept for the lifecycle included)."""
    return int(await conn.fetchval(
        "SELECT count(*) FROM resources WHERE provider_id = ?", (provider_id,)))


async def has_kind(conn: Conn, provider_id: str, kind: str) -> bool:
    return bool(await conn.fetchval(
        "SELECT count(*) FROM credentials WHERE provider_id = ? AND kind = ?"
        " AND revoked_at IS NULL", (provider_id, kind)))


async def credentials_issued(conn: Conn) -> dict[str, str]:
    """Every provider's credential_issued_at, in one statement: {provider_id: stamp}."""
    rows = await conn.fetchall(
        "SELECT provider_id, max(created_at) AS issued FROM credentials"
        " WHERE expires_at IS NULL AND revoked_at IS NULL GROUP BY provider_id")
    return {row["provider_id"]: str(row["issued"]) for row in rows}
