-- 005: waiting requests that keep their place in their pool's queue across
-- a restart or a failover. A lease or checkout with wait and a request_id
-- is written here while it waits (seq: its order in the queue) and deleted
-- when it is served, times out or its client goes away from a live poold.
-- At start each row becomes a reserved place that the same caller takes
-- back by sending the same request_id (docs/protocol.md).

CREATE TABLE waiters (
    seq        INTEGER PRIMARY KEY,
    caller     TEXT NOT NULL,
    request_id TEXT NOT NULL,
    pool       TEXT NOT NULL,
    mode       TEXT NOT NULL,   -- pop|checkout
    name       TEXT,            -- checkout by name, or NULL
    match      TEXT,            -- checkout by match (JSON), or NULL
    ends_at    REAL NOT NULL    -- wall clock: when its wait ends
);
