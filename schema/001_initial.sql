-- 001: pools, their resources, leases, and the daemon's persistent counters.
-- Times are Unix epoch seconds (REAL, UTC); the wire shows them as RFC 3339.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;

-- next_token: the next fencing token; one counter for the whole daemon, so a
-- pool deleted and created again never reuses a token.
INSERT INTO meta (key, value) VALUES ('next_token', 1);

CREATE TABLE pools (
    name       TEXT PRIMARY KEY,
    settings   TEXT NOT NULL,      -- JSON object: every Pool setting and state
    created_at REAL NOT NULL
) WITHOUT ROWID;

CREATE TABLE resources (
    pool         TEXT NOT NULL,
    name         TEXT NOT NULL,
    state        TEXT NOT NULL,    -- creating|free|leased|cleaning|destroying
    descriptor   TEXT NOT NULL,    -- JSON object, opaque to the daemon
    version      INTEGER NOT NULL,
    created_at   REAL NOT NULL,
    last_used_at REAL,
    lease_count  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (pool, name)
) WITHOUT ROWID;

CREATE INDEX resources_state ON resources (pool, state, name);

CREATE TABLE leases (
    seq         INTEGER PRIMARY KEY,  -- grant order: lease.list's order and cursor
    id          TEXT NOT NULL UNIQUE, -- 32 hex chars, the capability
    pool        TEXT NOT NULL,
    resource    TEXT NOT NULL,
    mode        TEXT NOT NULL,        -- pop|checkout
    token       INTEGER NOT NULL,
    owner       TEXT NOT NULL,
    caller      TEXT NOT NULL,        -- "uid:N" or a token name
    bind        TEXT NOT NULL,        -- none|connection
    conn_id     INTEGER NOT NULL,     -- the binding connection, this run only
    ttl         REAL NOT NULL,        -- 0 = no TTL
    acquired_at REAL NOT NULL,
    expires_at  REAL,                 -- NULL = no TTL
    request_id  TEXT,
    expired_at  REAL                  -- NULL while live; set when the TTL ended
                                      -- it, kept a while to answer "expired"
);

CREATE INDEX leases_pool ON leases (pool, seq);
