-- 002 (PostgreSQL): leadership among the front ends that share this
-- database. One row: the epoch rises at every claim; the leader renews
-- renewed_at (the database's clock, so the front ends' clocks need not
-- agree) and every batch's transaction first updates this row WHERE epoch
-- is its own, so a deposed leader can never commit (docs/ha.md). Ordinary
-- rows and transactions only, no advisory locks: PostgreSQL-wire engines
-- without them can serve as well.

CREATE TABLE leader (
    id         integer PRIMARY KEY CHECK (id = 1),
    epoch      bigint NOT NULL,      -- 0 = never claimed
    holder     text,                 -- the leader's node: host, pid, start
    advertise  text,                 -- its --advertise address; NULL = none
    renewed_at timestamptz NOT NULL  -- '-infinity' = free to claim at once
);

INSERT INTO leader (id, epoch, holder, advertise, renewed_at)
    VALUES (1, 0, NULL, NULL, '-infinity');

-- The fence, the first statement of every batch's transaction: renews,
-- and keeps the row locked until the commit; fails the transaction when
-- another front end has claimed since (a deposed leader can never commit).
CREATE FUNCTION poold_fence(mine bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE leader SET renewed_at = now() WHERE id = 1 AND epoch = mine;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no longer the leader: epoch % was superseded by another front end', mine
            USING ERRCODE = 'P0001';
    END IF;
END
$$;
