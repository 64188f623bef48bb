-- The node's operating system when it was audited (`ID VERSION_ID` of /etc/os-release, such as
-- `rhel 9.4`), so reports can group history by it. NULL before this migration, and where the
-- node did not say.
ALTER TABLE audit_nodes ADD COLUMN os TEXT;

-- Retention: per class of data, how far the service has purged. `purged_before`: everything of
-- the class older than this is gone (reports over an earlier range say so); `last_id`: the run
-- (or decision) id the purge of a per-run class has reached, so each pass starts where the last
-- one stopped instead of rescanning what is already done.
CREATE TABLE retention_state (
    class         TEXT    PRIMARY KEY CHECK (class IN ('output', 'facts', 'findings', 'runs', 'events')),
    purged_before TEXT,
    last_id       INTEGER NOT NULL DEFAULT 0,
    purged_rows   INTEGER NOT NULL DEFAULT 0,
    updated_at    TEXT    NOT NULL
);

-- Reports follow a node's audits, reboots and repairs over time; retention deletes by age.
CREATE INDEX reboot_events_by_node_time ON reboot_events (node_id, seen_at);
CREATE INDEX repair_nodes_by_node_time ON repair_nodes (node_id, started_at);
CREATE INDEX audit_nodes_failing ON audit_nodes (finished_at) WHERE health IN ('degraded', 'broken');
CREATE INDEX runs_by_time ON runs (kind, started_at);
-- The newest runs of a kind (`caulk runs list --kind repair`) without sorting every run of it.
CREATE INDEX runs_by_kind ON runs (kind, id);
CREATE INDEX auto_repair_by_time ON auto_repair_decisions (created_at);
