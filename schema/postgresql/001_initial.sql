-- 001 (PostgreSQL): the same tables as schema/001..004 for SQLite, in
-- PostgreSQL's dialect. Times are Unix epoch seconds (double precision, UTC);
-- the wire shows them as RFC 3339. Lookups by id and state are answered from
-- memory, so only the keys the store's own queries use are indexed.

CREATE TABLE meta (
    key   text PRIMARY KEY,
    value bigint NOT NULL
);

-- next_token: the next fencing token; one counter for every front end, so a
-- new leader goes on where the old one stopped.
INSERT INTO meta (key, value) VALUES ('next_token', 1);

-- Names compare byte by byte (COLLATE "C"), as in memory and in SQLite: the
-- pages of resource.list go by name, whatever the database's locale.
CREATE TABLE pools (
    name       text COLLATE "C" PRIMARY KEY,
    settings   text NOT NULL,      -- JSON object: every Pool setting and state
    created_at double precision NOT NULL
);

CREATE TABLE resources (
    pool         text COLLATE "C" NOT NULL,
    name         text COLLATE "C" NOT NULL,
    state        text NOT NULL,    -- creating|free|leased|cleaning|destroying
    descriptor   text NOT NULL,    -- JSON object, opaque to the daemon
    version      bigint NOT NULL,
    created_at   double precision NOT NULL,
    last_used_at double precision,
    lease_count  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (pool, name)
);

CREATE TABLE leases (
    seq         bigint PRIMARY KEY,   -- grant order: lease.list's order and cursor
    id          text NOT NULL,        -- 32 hex chars, the capability
    pool        text NOT NULL,
    resource    text NOT NULL,
    mode        text NOT NULL,        -- pop|checkout
    token       bigint NOT NULL,
    owner       text NOT NULL,
    caller      text NOT NULL,        -- "uid:N" or a token name
    bind        text NOT NULL,        -- none|connection
    conn_id     bigint NOT NULL,      -- the binding connection, that run only
    ttl         double precision NOT NULL,
    acquired_at double precision NOT NULL,
    expires_at  double precision,     -- NULL = no TTL
    request_id  text,
    expired_at  double precision      -- NULL while live
);

-- Destroy commands that outlive their resource (see schema/003_orphans.sql).
CREATE TABLE orphans (
    id         bigint PRIMARY KEY,
    pool       text NOT NULL,
    name       text NOT NULL,
    descriptor text NOT NULL,
    destroy    text NOT NULL,
    since      double precision NOT NULL
);

-- Every committed event (see schema/004_history.sql). seq comes from an
-- identity, so it rises and is never reused, also across front ends.
CREATE TABLE history (
    seq      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at       double precision NOT NULL,
    event    text NOT NULL,
    pool     text NOT NULL,
    resource text,
    lease    text,
    caller   text,
    owner    text,
    token    bigint,
    detail   text
);

CREATE INDEX history_at ON history (at);
