-- Legal holds, kept after release for the record. At most one hold per user is active.
-- Timestamps are TEXT in the gateway's format (YYYY-MM-DDTHH:MM:SS.ffffffZ).
CREATE TABLE legal_holds (
    id           BIGSERIAL PRIMARY KEY,
    user_id      TEXT NOT NULL,
    matter       TEXT NOT NULL,
    placed_by    TEXT NOT NULL,
    placed_at    TEXT NOT NULL,
    released_by  TEXT,
    released_at  TEXT
);
CREATE UNIQUE INDEX legal_holds_active ON legal_holds (user_id) WHERE released_at IS NULL;
CREATE INDEX legal_holds_user ON legal_holds (user_id, id);
