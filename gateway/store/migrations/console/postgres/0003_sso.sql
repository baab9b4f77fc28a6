-- Console accounts signed in through the company's identity provider (OpenID Connect).
-- `source` is 'local' (a password) or 'sso'; an SSO account is found again by its issuer
-- and subject (the ID token's `iss` and `sub`), never by its name, and has no password.
-- `disabled_at`: when the account was disabled (it cannot sign in; NULL: enabled).
ALTER TABLE admins ADD COLUMN source TEXT NOT NULL DEFAULT 'local';
ALTER TABLE admins ADD COLUMN issuer TEXT;
ALTER TABLE admins ADD COLUMN subject TEXT;
ALTER TABLE admins ADD COLUMN disabled_at TEXT;
CREATE UNIQUE INDEX admins_identity ON admins (issuer, subject);

-- Sign-ins started at the identity provider and not yet back: only the hashes of the
-- `state` sent there and of the browser's pre-sign-in cookie, the nonce and the PKCE
-- verifier. A callback takes its row with the statement that deletes it, so each state is
-- used once. `admin` is set for an admin's test sign-in from the Settings page.
CREATE TABLE sso_states (
    state_hash    TEXT PRIMARY KEY,
    browser_hash  TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    verifier      TEXT NOT NULL,
    next          TEXT NOT NULL,
    admin         TEXT,
    expires_at    TEXT NOT NULL
);
CREATE INDEX sso_states_expires ON sso_states (expires_at);

-- The single sign-on settings saved on the console's Settings page (one row; the
-- [console.sso] section of the config file, when present, is used instead). The client
-- secret is never stored here: it comes from the environment.
CREATE TABLE sso_config (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    settings    TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    updated_by  TEXT NOT NULL
);
