-- ocs-stack schema, version 1: what the SQLite store keeps, for a pool of front ends.
-- Applied once, in one transaction, by the first node that finds it missing
-- (src/server/store/postgres.rs); never edit an applied migration, add the next one.

-- The users: what is kept of their passwords, never the passwords.
CREATE TABLE users (
    name TEXT PRIMARY KEY,
    display TEXT NOT NULL DEFAULT '',
    realm TEXT NOT NULL,
    ha1_md5 TEXT NOT NULL,
    ha1_sha256 TEXT NOT NULL,
    ha1_sha512_256 TEXT NOT NULL,
    nt_hash BYTEA NOT NULL CHECK (length(nt_hash) = 16)
);

-- Registrations (RFC 3261 §10.3), by address of record and contact.
CREATE TABLE bindings (
    aor TEXT NOT NULL,
    contact TEXT NOT NULL,
    instance TEXT,
    expires_at BIGINT NOT NULL,
    call_id TEXT NOT NULL,
    cseq BIGINT NOT NULL CHECK (cseq >= 0),
    PRIMARY KEY (aor, contact)
);
CREATE INDEX bindings_by_expiry ON bindings (expires_at);

-- Scheduled conferences: the focus's conference-info record and the conference key.
CREATE TABLE conferences (
    focus TEXT PRIMARY KEY,
    info TEXT NOT NULL,
    key BYTEA NOT NULL CHECK (length(key) = 16),
    expires_at BIGINT NOT NULL
);
CREATE INDEX conferences_by_expiry ON conferences (expires_at);

-- Contact lists and roaming data ([MS-PRES]): the contactList and roamingData documents.
CREATE TABLE roaming (
    aor TEXT PRIMARY KEY,
    contacts TEXT NOT NULL,
    data TEXT NOT NULL
);

-- The Address Book Server's history ([MS-ABS]): each kept day's book, the published files.
CREATE TABLE abs_days (
    day INTEGER PRIMARY KEY,
    book BYTEA NOT NULL
);
CREATE TABLE abs_files (
    name TEXT PRIMARY KEY,
    day INTEGER NOT NULL,
    body BYTEA NOT NULL,
    published BIGINT NOT NULL
);
