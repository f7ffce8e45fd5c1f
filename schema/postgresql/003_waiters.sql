-- 003 (PostgreSQL): waiting requests that keep their place in their pool's
-- queue across a failover or a restart; see schema/005_waiters.sql.

CREATE TABLE waiters (
    seq        bigint PRIMARY KEY,
    caller     text NOT NULL,
    request_id text NOT NULL,
    pool       text NOT NULL,
    mode       text NOT NULL,   -- pop|checkout
    name       text,            -- checkout by name, or NULL
    match      text,            -- checkout by match (JSON), or NULL
    ends_at    float8 NOT NULL  -- wall clock: when its wait ends
);
