-- Which sitrep process runs each run (host, boot, pid, start time), so that a restart marks
-- interrupted only the runs of processes that are gone, never those of a live one.
ALTER TABLE task_runs ADD COLUMN owner TEXT;
-- The scheduler's last run per SLX and task.
CREATE INDEX task_runs_slx_task ON task_runs (workspace, slx, task, started_at);
-- An issue's scope is its resource however the task ran (by hand, from an SLX, scheduled), and
-- runs, insights and metric samples follow. Issues are rescoped by the data step of this
-- migration, which recomputes their fingerprints.
UPDATE task_runs SET scope = resource WHERE scope <> resource;
UPDATE insights SET scope = resource WHERE scope <> resource;
UPDATE metric_samples SET scope = resource WHERE scope <> resource
