-- What caulk observes of a node (its boot, when it last answered) moves out of `nodes`, which
-- now holds only what the inventory declares. Imports and PATCH write `nodes`; audits, exec and
-- the beacon write `node_observations`; neither can touch the other's columns.

CREATE TABLE node_observations (
    node_id        INTEGER PRIMARY KEY REFERENCES nodes (id) ON DELETE CASCADE,
    -- the boot the node last reported, and when that boot began (from its uptime)
    last_boot_id   TEXT,
    last_booted_at TEXT,
    -- when it last answered over SSH
    last_seen_at   TEXT
);

INSERT INTO node_observations (node_id, last_boot_id, last_booted_at, last_seen_at)
SELECT id, last_boot_id, last_booted_at, last_seen_at FROM nodes
WHERE last_boot_id IS NOT NULL OR last_booted_at IS NOT NULL OR last_seen_at IS NOT NULL;

ALTER TABLE nodes DROP COLUMN last_boot_id;
ALTER TABLE nodes DROP COLUMN last_booted_at;
ALTER TABLE nodes DROP COLUMN last_seen_at;
