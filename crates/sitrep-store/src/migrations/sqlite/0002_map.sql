CREATE TABLE resources (
    workspace TEXT NOT NULL,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    stale BIGINT NOT NULL DEFAULT 0,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    PRIMARY KEY (workspace, key)
);
CREATE INDEX resources_name ON resources (workspace, name);
CREATE TABLE edges (
    workspace TEXT NOT NULL,
    from_key TEXT NOT NULL,
    to_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    last_seen BIGINT NOT NULL,
    PRIMARY KEY (workspace, from_key, to_key, kind)
)
