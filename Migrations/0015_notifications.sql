-- Webhooks and what was sent to them. An event is written once, with one delivery per webhook
-- it goes to, in one transaction; deliveries are sent by the server in the background, tried
-- again with backoff, and kept as the delivery history.
-- AUTOINCREMENT: a removed webhook's id is never given to another, so nothing meant for it can
-- reach a webhook added later.
CREATE TABLE webhooks (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL UNIQUE,
    url        TEXT    NOT NULL,
    -- NULL: every cluster's events. A cluster deleted takes its webhooks with it.
    cluster_id INTEGER REFERENCES clusters (id) ON DELETE CASCADE,
    -- The kinds of event it is sent, comma-separated.
    events     TEXT    NOT NULL,
    format     TEXT    NOT NULL,
    -- The HMAC key bodies are signed with (it must be kept to sign).
    secret     TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at TEXT    NOT NULL
);

CREATE TABLE notification_events (
    id         INTEGER PRIMARY KEY,
    kind       TEXT    NOT NULL,
    cluster    TEXT,
    summary    TEXT    NOT NULL,
    -- The event as a caulk-format webhook receives it (JSON).
    body       TEXT    NOT NULL,
    created_at TEXT    NOT NULL
);
-- Retention purges events (with their deliveries) by age, with the reboot events.
CREATE INDEX notification_events_created ON notification_events (created_at);

CREATE TABLE notification_deliveries (
    id               INTEGER PRIMARY KEY,
    event_id         INTEGER NOT NULL REFERENCES notification_events (id) ON DELETE CASCADE,
    -- NULL once the webhook is removed; its name stays for the history.
    webhook_id       INTEGER REFERENCES webhooks (id) ON DELETE SET NULL,
    webhook_name     TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT,
    last_status_code INTEGER,
    last_error       TEXT,
    created_at       TEXT    NOT NULL,
    finished_at      TEXT
);
CREATE INDEX notification_deliveries_due ON notification_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notification_deliveries_by_webhook ON notification_deliveries (webhook_name, id);
CREATE INDEX notification_deliveries_by_event ON notification_deliveries (event_id);
