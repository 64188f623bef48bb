-- Installing the boot beacon is a run kind of its own, 'beacon-install', instead of a 'repair'
-- told apart by its playbook. A run that failed as a whole (not node by node) keeps why, in
-- `error`. SQLite cannot change a CHECK constraint in place, so the table is
-- rebuilt the documented way (new table, copy, drop, rename); foreign keys are checked once the
-- migration is done, and the tables that point at runs keep their references by name.

CREATE TABLE runs_new (
    id              INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL CHECK (kind IN ('exec', 'audit', 'repair', 'beacon-install')),
    cluster_id      INTEGER REFERENCES clusters (id) ON DELETE SET NULL,
    cluster_name    TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled', 'interrupted')),
    trigger         TEXT    NOT NULL CHECK (trigger IN ('cli', 'api', 'schedule', 'auto')),
    requester       TEXT    NOT NULL,
    command         TEXT,
    parameters      TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(parameters)),
    host_count      INTEGER NOT NULL,
    started_at      TEXT    NOT NULL,
    finished_at     TEXT,
    playbook        TEXT,
    summary         TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(summary)),
    audit_before_id INTEGER REFERENCES runs (id) ON DELETE SET NULL,
    audit_after_id  INTEGER REFERENCES runs (id) ON DELETE SET NULL,
    dry_run         INTEGER NOT NULL DEFAULT 0,
    error           TEXT
);

INSERT INTO runs_new (id, kind, cluster_id, cluster_name, status, trigger, requester, command, parameters, host_count,
                      started_at, finished_at, playbook, summary, audit_before_id, audit_after_id, dry_run)
SELECT id, CASE WHEN kind = 'repair' AND playbook = 'boot-beacon' THEN 'beacon-install' ELSE kind END, cluster_id, cluster_name,
       status, trigger, requester, command, parameters, host_count, started_at, finished_at, playbook, summary,
       audit_before_id, audit_after_id, dry_run
FROM runs;

DROP TABLE runs;
ALTER TABLE runs_new RENAME TO runs;

CREATE INDEX runs_by_cluster ON runs (cluster_name, id);
CREATE INDEX runs_running ON runs (status) WHERE status = 'running';
CREATE INDEX runs_by_kind_cluster ON runs (kind, cluster_name, id);
CREATE INDEX runs_by_trigger ON runs (cluster_name, kind, trigger, started_at);
