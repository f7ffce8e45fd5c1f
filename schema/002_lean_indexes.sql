-- 002: fewer indexes on the hot path. Every index a lease or return touches
-- is one more page written to the WAL at each commit, and memory already
-- answers every lookup by id and by state. What remains: resources by
-- (pool, name) for resource.list pages, leases by seq for lease.list pages.

DROP INDEX resources_state;
DROP INDEX leases_pool;

-- Lease ids are 128 random bits and looked up in memory only: no UNIQUE
-- index to maintain. SQLite cannot drop a column constraint, so the table
-- is rebuilt.
CREATE TABLE leases_new (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL,
    pool        TEXT NOT NULL,
    resource    TEXT NOT NULL,
    mode        TEXT NOT NULL,
    token       INTEGER NOT NULL,
    owner       TEXT NOT NULL,
    caller      TEXT NOT NULL,
    bind        TEXT NOT NULL,
    conn_id     INTEGER NOT NULL,
    ttl         REAL NOT NULL,
    acquired_at REAL NOT NULL,
    expires_at  REAL,
    request_id  TEXT,
    expired_at  REAL
);
INSERT INTO leases_new SELECT seq, id, pool, resource, mode, token, owner,
    caller, bind, conn_id, ttl, acquired_at, expires_at, request_id,
    expired_at FROM leases;
DROP TABLE leases;
ALTER TABLE leases_new RENAME TO leases;
