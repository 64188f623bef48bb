-- Runs: every ad-hoc command (and, later, audit and repair) against a cluster, with one row per
-- host as each finishes. A run still 'running' when the service starts was cut short by a crash
-- and is marked 'interrupted'.

CREATE TABLE runs (
    id           INTEGER PRIMARY KEY,
    kind         TEXT    NOT NULL CHECK (kind IN ('exec', 'audit', 'repair')),
    cluster_id   INTEGER REFERENCES clusters (id) ON DELETE SET NULL,
    cluster_name TEXT    NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled', 'interrupted')),
    trigger      TEXT    NOT NULL CHECK (trigger IN ('cli', 'api', 'schedule', 'auto')),
    requester    TEXT    NOT NULL,
    command      TEXT,
    parameters   TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(parameters)),
    host_count   INTEGER NOT NULL,
    started_at   TEXT    NOT NULL,
    finished_at  TEXT
);
CREATE INDEX runs_by_cluster ON runs (cluster_name, id);
CREATE INDEX runs_running ON runs (status) WHERE status = 'running';

CREATE TABLE run_hosts (
    id               INTEGER PRIMARY KEY,
    run_id           INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    node_name        TEXT    NOT NULL,
    address          TEXT    NOT NULL,
    -- ok: exit 0; failed: ran, non-zero or signal; timed_out; error: never ran (see error_kind)
    outcome          TEXT    NOT NULL CHECK (outcome IN ('ok', 'failed', 'timed_out', 'error')),
    exit_status      INTEGER,
    exit_signal      TEXT,
    stdout           TEXT    NOT NULL DEFAULT '',
    stderr           TEXT    NOT NULL DEFAULT '',
    stdout_truncated INTEGER NOT NULL DEFAULT 0,
    stderr_truncated INTEGER NOT NULL DEFAULT 0,
    error_kind       TEXT,
    error            TEXT,
    host_key         TEXT,
    duration_ms      INTEGER NOT NULL,
    finished_at      TEXT    NOT NULL,
    UNIQUE (run_id, node_name)
);
