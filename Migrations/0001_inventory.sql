-- Inventory: clusters, their nodes, and API tokens.
-- Timestamps are UTC text as GRDB writes them ('YYYY-MM-DD HH:MM:SS.SSS').

CREATE TABLE clusters (
    id               INTEGER PRIMARY KEY,
    name             TEXT    NOT NULL UNIQUE,
    api_endpoint     TEXT    NOT NULL,
    pod_cidr         TEXT,
    encapsulation    TEXT    NOT NULL CHECK (encapsulation IN ('vxlan', 'ipip', 'none')),
    calico_namespace TEXT    NOT NULL CHECK (calico_namespace IN ('kube-system', 'calico-system')),
    ssh_user         TEXT    NOT NULL,
    ssh_port         INTEGER NOT NULL CHECK (ssh_port BETWEEN 1 AND 65535),
    ssh_key          TEXT,
    bastion          TEXT,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL
);

CREATE TABLE nodes (
    id           INTEGER PRIMARY KEY,
    cluster_id   INTEGER NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    address      TEXT    NOT NULL,
    role         TEXT    NOT NULL CHECK (role IN ('control-plane', 'worker')),
    labels       TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(labels)),
    ssh_user     TEXT,
    ssh_port     INTEGER CHECK (ssh_port BETWEEN 1 AND 65535),
    ssh_key      TEXT,
    bastion      TEXT,
    host_key     TEXT,
    last_boot_id TEXT,
    last_seen_at TEXT,
    created_at   TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL,
    UNIQUE (cluster_id, name)
);
CREATE INDEX nodes_by_role ON nodes (role, id);

CREATE TABLE tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL,
    role         TEXT    NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    -- hex SHA-256 of the secret; the secret itself is never stored
    secret_hash  TEXT    NOT NULL UNIQUE,
    created_at   TEXT    NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);
-- A revoked token keeps its row (for the record) and frees its name.
CREATE UNIQUE INDEX tokens_active_name ON tokens (name) WHERE revoked_at IS NULL;
