-- 004: the history of every event (the watch stream, kept). One row per
-- event, appended in the transaction of the change it reports, so it holds
-- exactly what was committed. seq rises and is never reused (pruning always
-- keeps the newest row, so max(seq) never goes back), so it is the cursor of
-- the history op even after pruning. Pruned by the janitor
-- (--history-max-age, --history-max-rows). No other index: each one would
-- add a page to every commit; "at" rises with seq, so pruning by age looks
-- at the oldest rows only.

CREATE TABLE history (
    seq      INTEGER PRIMARY KEY,
    at       REAL NOT NULL,
    event    TEXT NOT NULL,   -- leased, returned, created, ... (as watch)
    pool     TEXT NOT NULL,
    resource TEXT,            -- the resource's name
    lease    TEXT,            -- the lease id
    caller   TEXT,            -- who: the lease's caller, or the requester
    owner    TEXT,
    token    INTEGER,
    detail   TEXT             -- JSON: the resource as the event saw it
);
