-- Named console accounts. The password is stored only as an argon2 hash; `role` is
-- 'admin' (everything) or 'auditor' (read only).
CREATE TABLE admins (
    name             TEXT PRIMARY KEY,
    password_hash    TEXT NOT NULL,
    role             TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    password_set_at  TEXT NOT NULL,
    last_sign_in_at  TEXT
);

-- Console sessions: the cookie carries a random id, the table only its SHA-256 hash.
-- `csrf` is the session's anti-forgery token, embedded in every form it is shown.
CREATE TABLE sessions (
    id_hash     TEXT PRIMARY KEY,
    admin       TEXT NOT NULL,
    csrf        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX sessions_admin ON sessions (admin);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Failed sign-ins per submitted name (existing or not, so a lock-out reveals nothing).
CREATE TABLE sign_in_failures (
    name          TEXT PRIMARY KEY,
    failures      INTEGER NOT NULL,
    last_failure  TEXT NOT NULL,
    locked_until  TEXT
);
