CREATE TABLE inbound_events (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    source TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    dedup_key TEXT NOT NULL,
    status TEXT NOT NULL,
    session_id TEXT,
    spec TEXT NOT NULL
);
CREATE INDEX inbound_events_status ON inbound_events (workspace, status, received_at);
CREATE INDEX inbound_events_key ON inbound_events (workspace, dedup_key, received_at)
