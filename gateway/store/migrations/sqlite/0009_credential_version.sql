-- A counter that every change of a provider or a credential moves (a rotation, a revocation,
-- a new access token, a provider's settings or schema tag): a process keeps the credential
-- checks it answered and trusts them only while the counter it read them under is current,
-- so one read of this row stands for the credential query on every request, and a change
-- made by any process is seen by every process at its next request.
CREATE TABLE credential_version (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    n   INTEGER NOT NULL
);
INSERT INTO credential_version VALUES (1, 0);

CREATE TRIGGER providers_inserted AFTER INSERT ON providers
BEGIN UPDATE credential_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER providers_updated AFTER UPDATE ON providers
BEGIN UPDATE credential_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER providers_deleted AFTER DELETE ON providers
BEGIN UPDATE credential_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER credentials_inserted AFTER INSERT ON credentials
BEGIN UPDATE credential_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER credentials_updated AFTER UPDATE ON credentials
BEGIN UPDATE credential_version SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER credentials_deleted AFTER DELETE ON credentials
BEGIN UPDATE credential_version SET n = n + 1 WHERE id = 1; END;
