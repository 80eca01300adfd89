CREATE TABLE task_runs (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    scope TEXT NOT NULL,
    slx TEXT,
    resource TEXT NOT NULL,
    task TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    exit_code BIGINT,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    stdout TEXT NOT NULL DEFAULT '',
    stderr TEXT NOT NULL DEFAULT '',
    report TEXT NOT NULL DEFAULT '',
    error TEXT
);
CREATE INDEX task_runs_recent ON task_runs (workspace, started_at DESC);
CREATE INDEX task_runs_scope_task ON task_runs (workspace, scope, task, started_at DESC);
CREATE INDEX task_runs_status ON task_runs (status);

CREATE TABLE issues (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    scope TEXT NOT NULL,
    resource TEXT NOT NULL,
    task TEXT NOT NULL,
    severity BIGINT NOT NULL,
    title TEXT NOT NULL,
    expected TEXT NOT NULL,
    actual TEXT NOT NULL,
    details TEXT NOT NULL,
    next_steps TEXT NOT NULL,
    reproduce_hint TEXT NOT NULL,
    status TEXT NOT NULL,
    count BIGINT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    resolved_at BIGINT,
    last_run_id TEXT NOT NULL,
    UNIQUE (workspace, fingerprint)
);
CREATE INDEX issues_scope_task ON issues (workspace, scope, task);
CREATE INDEX issues_status ON issues (workspace, status, severity);

CREATE TABLE issue_events (
    id BIGSERIAL PRIMARY KEY,
    workspace TEXT NOT NULL,
    issue_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    run_id TEXT NOT NULL
);
CREATE INDEX issue_events_issue ON issue_events (workspace, issue_id, at);

CREATE TABLE insights (
    id BIGSERIAL PRIMARY KEY,
    workspace TEXT NOT NULL,
    run_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    resource TEXT NOT NULL,
    task TEXT NOT NULL,
    text TEXT NOT NULL,
    data TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX insights_scope ON insights (workspace, scope, task, at DESC);

CREATE TABLE metric_samples (
    id BIGSERIAL PRIMARY KEY,
    workspace TEXT NOT NULL,
    run_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    resource TEXT NOT NULL,
    task TEXT NOT NULL,
    name TEXT NOT NULL,
    labels TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX metric_samples_series ON metric_samples (workspace, scope, name, at);

CREATE TABLE slxs (
    workspace TEXT NOT NULL,
    name TEXT NOT NULL,
    resource TEXT NOT NULL,
    bundle TEXT NOT NULL,
    spec TEXT NOT NULL,
    stale BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace, name)
);
