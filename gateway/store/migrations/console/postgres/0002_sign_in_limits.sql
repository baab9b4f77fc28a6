-- Failed sign-ins were counted per submitted name, so anyone could lock an account out from
-- anywhere. They are now counted per (name, client address), per name from every address,
-- and per client address for any name; a browser that signed in carries a device cookie
-- whose hash is kept here. What the old table counted is dropped: it only ever held
-- lock-outs of a few minutes.
DROP TABLE sign_in_failures;

-- Failures for a name from one client: an address (an IPv6 /64), or `device:<hash>` for a
-- browser that signed in as that name before. `locked_until` is set as the count reaches
-- the lock-out threshold, before the password is checked.
CREATE TABLE sign_in_failures (
    name          TEXT NOT NULL,
    client        TEXT NOT NULL,
    failures      INTEGER NOT NULL,
    last_failure  TEXT NOT NULL,
    locked_until  TEXT,
    PRIMARY KEY (name, client)
);
CREATE INDEX sign_in_failures_last ON sign_in_failures (last_failure);

-- Failures for a name from every address (devices aside); past the threshold its checks
-- are spaced apart (`slowed_until`: no check for it before then).
CREATE TABLE sign_in_names (
    name          TEXT PRIMARY KEY,
    failures      INTEGER NOT NULL,
    last_failure  TEXT NOT NULL,
    slowed_until  TEXT
);
CREATE INDEX sign_in_names_last ON sign_in_names (last_failure);

-- Sign-in attempts from one client address in one minute (minutes since the epoch), any name.
CREATE TABLE sign_in_clients (
    client    TEXT PRIMARY KEY,
    minute    INTEGER NOT NULL,
    attempts  INTEGER NOT NULL
);
CREATE INDEX sign_in_clients_minute ON sign_in_clients (minute);

-- Browsers that signed in as a name: the SHA-256 of the device cookie.
CREATE TABLE sign_in_devices (
    id_hash     TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX sign_in_devices_name ON sign_in_devices (name);
CREATE INDEX sign_in_devices_expires ON sign_in_devices (expires_at);
