ALTER TABLE issues ADD COLUMN data TEXT NOT NULL DEFAULT '{}';

CREATE TABLE approvals (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    session_id TEXT,
    task TEXT NOT NULL,
    resource TEXT NOT NULL,
    status TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    decided_at BIGINT,
    expires_at BIGINT NOT NULL,
    spec TEXT NOT NULL
);
CREATE INDEX approvals_status ON approvals (workspace, status, requested_at);
CREATE INDEX approvals_task ON approvals (workspace, task, resource, decided_at);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    status TEXT NOT NULL,
    assistant TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    spec TEXT NOT NULL
);
CREATE INDEX sessions_recent ON sessions (workspace, started_at DESC);
CREATE INDEX sessions_status ON sessions (status);

CREATE TABLE session_audit (
    workspace TEXT NOT NULL,
    session_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (workspace, session_id, seq)
)
