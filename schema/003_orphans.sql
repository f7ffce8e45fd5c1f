-- 003: destroy commands that outlive their resource. When a pool is deleted
-- with force its resources leave at once, but their destroy commands still
-- have to run; they are kept here until they succeed, so that a restart of
-- poold runs them again instead of forgetting them.

CREATE TABLE orphans (
    id         INTEGER PRIMARY KEY,
    pool       TEXT NOT NULL,
    name       TEXT NOT NULL,
    descriptor TEXT NOT NULL,   -- compact JSON, given to the command's stdin
    destroy    TEXT NOT NULL,   -- the pool's destroy command object, JSON
    since      REAL NOT NULL
);
