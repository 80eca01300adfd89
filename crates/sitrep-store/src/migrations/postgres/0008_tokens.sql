CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    spec TEXT NOT NULL
);
CREATE INDEX api_tokens_workspace ON api_tokens (workspace, created_at)
