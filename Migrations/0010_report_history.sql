-- What reports read, worked out once when an audit finishes instead of at every report: each
-- reboot's verdict (what the node's next audit found) and each incident (a node going from
-- working to faulty, and when it was healthy again). Audits finished before this migration are
-- worked out when the service next starts (`runs.history_indexed` = 0).

-- What a node ran when audited (kernel, NIC driver, Calico version, encapsulation, OS), once per
-- distinct combination; reports group reboots, incidents and findings by it without reaching
-- into the large audit_nodes table. '' where the audit did not record it.
CREATE TABLE node_fact_sets (
    id             INTEGER PRIMARY KEY,
    kernel         TEXT    NOT NULL,
    nic_driver     TEXT    NOT NULL,
    calico_version TEXT    NOT NULL,
    encapsulation  TEXT    NOT NULL,
    os             TEXT    NOT NULL,
    UNIQUE (kernel, nic_driver, calico_version, encapsulation, os)
);

-- The audit that judged the reboot: the one that noticed it, or else the node's first audit
-- after it. judged: NULL not audited since; 0 the audit could not tell (unreachable, or an
-- UNKNOWN, SSH, SUDO or IDENTITY finding); 1 it could. checks: the warning and critical checks
-- it found on the node, space-separated ('' none). recovered_at: the node's first healthy audit
-- after a faulty verdict.
ALTER TABLE reboot_events ADD COLUMN audit_node_id INTEGER REFERENCES audit_nodes (id) ON DELETE SET NULL;
ALTER TABLE reboot_events ADD COLUMN judged INTEGER;
ALTER TABLE reboot_events ADD COLUMN checks TEXT;
ALTER TABLE reboot_events ADD COLUMN recovered_at TEXT;
-- what the node ran, as that audit read it (a node_fact_sets id; those rows are never deleted, so
-- the column declares no foreign key, which would make each new set scan the tables naming one)
ALTER TABLE reboot_events ADD COLUMN fact_set_id INTEGER;
CREATE INDEX reboot_events_by_audit_node ON reboot_events (audit_node_id);
CREATE INDEX reboot_events_unjudged ON reboot_events (node_id) WHERE judged IS NULL;
CREATE INDEX reboot_events_unrecovered ON reboot_events (node_id) WHERE checks != '' AND recovered_at IS NULL;

-- A node's audit that found a warning or critical fault (and could tell) after a judged audit
-- that found none, or as its first; until the node's next healthy audit.
CREATE TABLE incidents (
    id            INTEGER PRIMARY KEY,
    node_id       INTEGER REFERENCES nodes (id) ON DELETE SET NULL,
    cluster_name  TEXT    NOT NULL,
    node_name     TEXT    NOT NULL,
    -- the faulty audit, and when it finished
    audit_node_id INTEGER REFERENCES audit_nodes (id) ON DELETE SET NULL,
    found_at      TEXT    NOT NULL,
    fact_set_id   INTEGER,
    -- the node's judged audit before it (NULL: none)
    previous_at   TEXT,
    -- the first reboot seen between the two, else found_at
    started_at    TEXT    NOT NULL,
    rebooted      INTEGER NOT NULL,
    checks        TEXT    NOT NULL,
    -- the node's next healthy audit; NULL: not healthy again yet
    healthy_at    TEXT
);
CREATE INDEX incidents_by_time ON incidents (found_at);
CREATE UNIQUE INDEX incidents_by_audit_node ON incidents (audit_node_id);
CREATE INDEX incidents_by_node ON incidents (node_id, found_at);
CREATE INDEX incidents_open ON incidents (node_id) WHERE healthy_at IS NULL;

-- Audit runs whose results are not worked into the above yet: every one from before this
-- migration, and any a crash ended before it could be.
ALTER TABLE runs ADD COLUMN history_indexed INTEGER NOT NULL DEFAULT 0;
CREATE INDEX runs_not_indexed ON runs (id) WHERE kind = 'audit' AND history_indexed = 0;

-- A fault: one check firing on one node ('' for the cluster as a whole), however many audits
-- found it. Each warning or critical finding names its fault and, about a node, what the node
-- ran when its audit found it; the findings report reads them from one index over the time range
-- and counts faults by number. Like node_fact_sets, faults keeps every row.
CREATE TABLE faults (
    id           INTEGER PRIMARY KEY,
    cluster_name TEXT    NOT NULL,
    node_name    TEXT    NOT NULL,
    check_id     TEXT    NOT NULL,
    UNIQUE (cluster_name, node_name, check_id)
);
ALTER TABLE findings ADD COLUMN fault_id INTEGER;
ALTER TABLE findings ADD COLUMN fact_set_id INTEGER;
DROP INDEX findings_by_time;
CREATE INDEX findings_by_time ON findings (created_at, severity, cluster_name, check_id, fault_id, fact_set_id);

-- The repairs report counts failed steps per run; mttr counts the repairs that worked on a node
-- during each incident, from the index alone.
CREATE INDEX repair_steps_failed ON repair_steps (run_id) WHERE outcome IN ('failed', 'timed_out', 'error');
DROP INDEX repair_nodes_by_node_time;
CREATE INDEX repair_nodes_by_node_time ON repair_nodes (node_id, started_at, outcome);

-- `GET /v1/runs/{id}/events` follows an audit's nodes in the order they were recorded.
CREATE INDEX audit_nodes_by_run ON audit_nodes (run_id, id);
