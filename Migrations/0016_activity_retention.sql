-- The activity log is a retention class of its own (activity_days): retention_state takes it.
-- SQLite cannot change a CHECK in place, so the table is made again with its rows.
CREATE TABLE retention_state_new (
    class         TEXT    PRIMARY KEY CHECK (class IN ('output', 'facts', 'findings', 'runs', 'events', 'activity')),
    purged_before TEXT,
    last_id       INTEGER NOT NULL DEFAULT 0,
    purged_rows   INTEGER NOT NULL DEFAULT 0,
    updated_at    TEXT    NOT NULL
);
INSERT INTO retention_state_new (class, purged_before, last_id, purged_rows, updated_at)
    SELECT class, purged_before, last_id, purged_rows, updated_at FROM retention_state;
DROP TABLE retention_state;
ALTER TABLE retention_state_new RENAME TO retention_state;
