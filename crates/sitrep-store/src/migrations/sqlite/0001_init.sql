CREATE TABLE task_runs (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    scope TEXT NOT NULL,
    slx TEXT,
    resource TEXT NOT NULL,
    task TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    exit_code INTEGER,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
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
    severity INTEGER NOT NULL,
    title TEXT NOT NULL,
    expected TEXT NOT NULL,
    actual TEXT NOT NULL,
    details TEXT NOT NULL,
    next_steps TEXT NOT NULL,
    reproduce_hint TEXT NOT NULL,
    status TEXT NOT NULL,
    count INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    resolved_at INTEGER,
    last_run_id TEXT NOT NULL,
    UNIQUE (workspace, fingerprint)
);
CREATE INDEX issues_scope_task ON issues (workspace, scope, task);
CREATE INDEX issues_status ON issues (workspace, status, severity);

CREATE TABLE issue_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace TEXT NOT NULL,
    issue_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    run_id TEXT NOT NULL
);
CREATE INDEX issue_events_issue ON issue_events (workspace, issue_id, at);

CREATE TABLE insights (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace TEXT NOT NULL,
    run_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    resource TEXT NOT NULL,
    task TEXT NOT NULL,
    text TEXT NOT NULL,
    data TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX insights_scope ON insights (workspace, scope, task, at DESC);

CREATE TABLE metric_samples (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace TEXT NOT NULL,
    run_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    resource TEXT NOT NULL,
    task TEXT NOT NULL,
    name TEXT NOT NULL,
    labels TEXT NOT NULL,
    value REAL NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX metric_samples_series ON metric_samples (workspace, scope, name, at);

CREATE TABLE slxs (
    workspace TEXT NOT NULL,
    name TEXT NOT NULL,
    resource TEXT NOT NULL,
    bundle TEXT NOT NULL,
    spec TEXT NOT NULL,
    stale INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (workspace, name)
);
