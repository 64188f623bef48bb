-- Repairs: each repair run's plan and outcome per node, every step it ran (or, in a dry run,
-- would run), the audits before and after it, and the per-cluster auto-repair policy with every
-- decision it took.

-- A repair's audits (kind 'audit' runs of their own), and whether it only planned.
ALTER TABLE runs ADD COLUMN audit_before_id INTEGER REFERENCES runs (id) ON DELETE SET NULL;
ALTER TABLE runs ADD COLUMN audit_after_id INTEGER REFERENCES runs (id) ON DELETE SET NULL;
ALTER TABLE runs ADD COLUMN dry_run INTEGER NOT NULL DEFAULT 0;
-- "Auto-repairs in the last hour" per cluster.
CREATE INDEX runs_by_trigger ON runs (cluster_name, kind, trigger, started_at);

-- One row per node the repair planned to touch (or could not), written with the plan and
-- updated as the node finishes: after a crash the plan and the nodes done are still there.
CREATE TABLE repair_nodes (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    node_id     INTEGER REFERENCES nodes (id) ON DELETE SET NULL,
    node_name   TEXT    NOT NULL,
    position    INTEGER NOT NULL,
    -- JSON arrays: the audit's check ids that called for a repair, and the repairs chosen
    findings    TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(findings)),
    repairs     TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(repairs)),
    -- pending: not reached yet; planned: dry run; skipped: not touched (rollout stopped, or
    -- nothing caulk can repair, e.g. unreachable)
    outcome     TEXT    NOT NULL CHECK (outcome IN ('pending', 'planned', 'running', 'recovered', 'failed', 'skipped')),
    reason      TEXT,
    started_at  TEXT,
    finished_at TEXT,
    UNIQUE (run_id, node_name)
);
CREATE INDEX repair_nodes_by_node ON repair_nodes (node_id, run_id);

-- Every step as it finishes: where it ran, the command with its real values, what came back.
CREATE TABLE repair_steps (
    id           INTEGER PRIMARY KEY,
    run_id       INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    -- NULL: a cluster-wide step
    node_name    TEXT,
    host         TEXT    NOT NULL,
    repair       TEXT    NOT NULL,
    step         TEXT    NOT NULL,
    command      TEXT    NOT NULL,
    outcome      TEXT    NOT NULL CHECK (outcome IN ('planned', 'ok', 'failed', 'timed_out', 'error')),
    exit_status  INTEGER,
    stdout       TEXT    NOT NULL DEFAULT '',
    stderr       TEXT    NOT NULL DEFAULT '',
    started_at   TEXT    NOT NULL,
    duration_ms  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX repair_steps_by_run ON repair_steps (run_id, id);

-- Off unless a row says otherwise.
CREATE TABLE auto_repair_policies (
    cluster_id          INTEGER PRIMARY KEY REFERENCES clusters (id) ON DELETE CASCADE,
    enabled             INTEGER NOT NULL DEFAULT 0,
    delay_seconds       INTEGER NOT NULL DEFAULT 120 CHECK (delay_seconds BETWEEN 0 AND 86400),
    max_per_hour        INTEGER NOT NULL DEFAULT 2 CHECK (max_per_hour BETWEEN 1 AND 60),
    max_disrupted_share REAL    NOT NULL DEFAULT 0.25 CHECK (max_disrupted_share > 0 AND max_disrupted_share <= 1),
    updated_by          TEXT    NOT NULL,
    updated_at          TEXT    NOT NULL
);

-- What the policy did after each reboot: pending until due, then repaired, failed or skipped
-- (with why). Reboots of a cluster that arrive while one is pending join it.
CREATE TABLE auto_repair_decisions (
    id              INTEGER PRIMARY KEY,
    cluster_id      INTEGER REFERENCES clusters (id) ON DELETE SET NULL,
    cluster_name    TEXT    NOT NULL,
    reboot_event_id INTEGER REFERENCES reboot_events (id) ON DELETE SET NULL,
    node_name       TEXT,
    reboots         INTEGER NOT NULL DEFAULT 1,
    due_at          TEXT    NOT NULL,
    decision        TEXT    NOT NULL CHECK (decision IN ('pending', 'running', 'repaired', 'failed', 'skipped')),
    reason          TEXT,
    audit_run_id    INTEGER REFERENCES runs (id) ON DELETE SET NULL,
    repair_run_id   INTEGER REFERENCES runs (id) ON DELETE SET NULL,
    created_at      TEXT    NOT NULL,
    decided_at      TEXT
);
CREATE INDEX auto_repair_pending ON auto_repair_decisions (due_at) WHERE decision = 'pending';
CREATE INDEX auto_repair_by_cluster ON auto_repair_decisions (cluster_name, id);
