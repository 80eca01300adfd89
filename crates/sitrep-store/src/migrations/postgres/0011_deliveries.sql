CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    session_id TEXT NOT NULL,
    status TEXT NOT NULL,
    next_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    spec TEXT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (workspace, status, next_at);
CREATE INDEX deliveries_session ON deliveries (workspace, session_id, created_at)
