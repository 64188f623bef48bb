-- Audits: per-node results and findings of each audit run, reboot events, schedules, and
-- node-scoped tokens (a node announcing its own boot).

-- Which playbook a run ran, and the cluster-wide facts and counts it ended with.
ALTER TABLE runs ADD COLUMN playbook TEXT;
ALTER TABLE runs ADD COLUMN summary TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(summary));
CREATE INDEX runs_by_kind_cluster ON runs (kind, cluster_name, id);

-- When the node's current boot began (derived from uptime), to tell an old boot id from a new one.
ALTER TABLE nodes ADD COLUMN last_booted_at TEXT;

-- One row per node per audit, written as soon as that node's checks are done.
CREATE TABLE audit_nodes (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    node_id     INTEGER REFERENCES nodes (id) ON DELETE SET NULL,
    node_name   TEXT    NOT NULL,
    health      TEXT    NOT NULL CHECK (health IN ('healthy', 'degraded', 'broken', 'unreachable')),
    boot_id     TEXT,
    booted_at   TEXT,
    kernel      TEXT,
    nic_driver  TEXT,
    -- what the checks read (offload, MTUs, firewall, probe results …), for reports and `runs show`
    facts       TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(facts)),
    error       TEXT,
    finished_at TEXT    NOT NULL,
    UNIQUE (run_id, node_name)
);
CREATE INDEX audit_nodes_by_node ON audit_nodes (node_id, run_id);

CREATE TABLE findings (
    id           INTEGER PRIMARY KEY,
    run_id       INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    cluster_name TEXT    NOT NULL,
    -- NULL: about the cluster as a whole (F8, kubectl facts)
    node_name    TEXT,
    check_id     TEXT    NOT NULL,
    severity     TEXT    NOT NULL CHECK (severity IN ('critical', 'warning', 'info')),
    message      TEXT    NOT NULL,
    evidence     TEXT    NOT NULL DEFAULT '',
    repair       TEXT,
    created_at   TEXT    NOT NULL
);
CREATE INDEX findings_by_run ON findings (run_id, node_name);
CREATE INDEX findings_by_check ON findings (check_id, created_at);

-- A boot is recorded once per node whichever way it was seen first (audit or beacon).
CREATE TABLE reboot_events (
    id           INTEGER PRIMARY KEY,
    node_id      INTEGER REFERENCES nodes (id) ON DELETE SET NULL,
    cluster_name TEXT    NOT NULL,
    node_name    TEXT    NOT NULL,
    old_boot_id  TEXT,
    new_boot_id  TEXT    NOT NULL,
    booted_at    TEXT,
    seen_at      TEXT    NOT NULL,
    source       TEXT    NOT NULL CHECK (source IN ('audit', 'beacon')),
    run_id       INTEGER REFERENCES runs (id) ON DELETE SET NULL,
    UNIQUE (node_id, new_boot_id)
);
CREATE INDEX reboot_events_by_cluster ON reboot_events (cluster_name, seen_at);
CREATE INDEX reboot_events_by_time ON reboot_events (seen_at);

CREATE TABLE schedules (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    cron        TEXT    NOT NULL,
    -- NULL: every cluster in the inventory when the schedule fires
    cluster_id  INTEGER REFERENCES clusters (id) ON DELETE CASCADE,
    playbook    TEXT    NOT NULL,
    paused      INTEGER NOT NULL DEFAULT 0,
    next_run_at TEXT    NOT NULL,
    last_run_at TEXT,
    created_by  TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);
CREATE INDEX schedules_due ON schedules (next_run_at) WHERE paused = 0;

-- Tokens gain the `node` role: such a token belongs to one node and may only announce its boots.
CREATE TABLE tokens_new (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL,
    role         TEXT    NOT NULL CHECK (role IN ('node', 'viewer', 'operator', 'admin')),
    node_id      INTEGER REFERENCES nodes (id) ON DELETE CASCADE,
    secret_hash  TEXT    NOT NULL UNIQUE,
    created_at   TEXT    NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT,
    CHECK ((role = 'node') = (node_id IS NOT NULL))
);
INSERT INTO tokens_new (id, name, role, secret_hash, created_at, last_used_at, revoked_at)
    SELECT id, name, role, secret_hash, created_at, last_used_at, revoked_at FROM tokens;
DROP TABLE tokens;
ALTER TABLE tokens_new RENAME TO tokens;
CREATE UNIQUE INDEX tokens_active_name ON tokens (name) WHERE revoked_at IS NULL;
