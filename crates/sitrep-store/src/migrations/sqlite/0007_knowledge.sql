CREATE TABLE knowledge_notes (
    workspace TEXT NOT NULL,
    id TEXT NOT NULL,
    origin TEXT NOT NULL,
    hash TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    spec TEXT NOT NULL,
    PRIMARY KEY (workspace, id)
)
