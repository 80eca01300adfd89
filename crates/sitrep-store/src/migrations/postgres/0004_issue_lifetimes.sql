-- Inconclusive runs keep why they could not measure. Event-window issues keep when their
-- events last happened, and every issue until when its evidence counts as current.
ALTER TABLE task_runs ADD COLUMN reason TEXT;
ALTER TABLE issues ADD COLUMN last_event_at BIGINT;
ALTER TABLE issues ADD COLUMN current_until BIGINT
