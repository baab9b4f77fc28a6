-- Legal holds, kept after release for the record. At most one hold per user is active.
CREATE TABLE legal_holds (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      TEXT NOT NULL,
    matter       TEXT NOT NULL,
    placed_by    TEXT NOT NULL,
    placed_at    TEXT NOT NULL,
    released_by  TEXT,
    released_at  TEXT
);
CREATE UNIQUE INDEX legal_holds_active ON legal_holds (user_id) WHERE released_at IS NULL;
CREATE INDEX legal_holds_user ON legal_holds (user_id, id);
