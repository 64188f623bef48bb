-- Who changed what, when: inventory (and imports), host-key trust, tokens, schedules, auto-repair
-- policies, beacons, purges, and runs people started or cancelled. Each row is written in the
-- same transaction as the change it records. `before` and `after` are JSON objects of the fields
-- that matter (for an update, only those that changed); absent where they do not fit.
CREATE TABLE activity (
    id      INTEGER PRIMARY KEY,
    at      TEXT    NOT NULL,
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    cluster TEXT,
    target  TEXT    NOT NULL,
    before  TEXT,
    after   TEXT
);
CREATE INDEX activity_at ON activity (at);
CREATE INDEX activity_actor ON activity (actor, id);
CREATE INDEX activity_cluster ON activity (cluster, id);
