-- A counter that every change of a provider or a credential moves (a rotation, a revocation,
-- a new access token, a provider's settings or schema tag): a process keeps the credential
-- checks it answered and trusts them only while the counter it read them under is current,
-- so one read of this row stands for the credential query on every request, and a change
-- made by any replica is seen by every replica at its next request.
CREATE TABLE credential_version (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    n   BIGINT NOT NULL
);
INSERT INTO credential_version VALUES (1, 0);

CREATE FUNCTION credential_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE credential_version SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER providers_changed AFTER INSERT OR UPDATE OR DELETE ON providers
    FOR EACH STATEMENT EXECUTE FUNCTION credential_version_bump();
CREATE TRIGGER credentials_changed AFTER INSERT OR UPDATE OR DELETE ON credentials
    FOR EACH STATEMENT EXECUTE FUNCTION credential_version_bump();
