-- ezra's database schema, version 3 (PRAGMA user_version = 3). docs/storage.md explains it.
-- A task is two rows keyed by its id: its payload, written once, and its state, rewritten by
-- claims, acks and nacks. People read the `tasks` view at the end (docs/inspection.md).

CREATE TABLE queues (
  -- Tasks are filed under a key: id * 2 for the queue, id * 2 + 1 for its dead view <name>::dead.
  id                 INTEGER PRIMARY KEY,
  name               TEXT NOT NULL UNIQUE,
  last_ms            INTEGER NOT NULL DEFAULT 0,   -- last id handed out, so ids never go back
  last_seq           INTEGER NOT NULL DEFAULT 0,
  visibility_timeout_ms INTEGER,                   -- NULL: the server-wide default
  max_attempts       INTEGER,
  retention_ms       INTEGER,
  entry_fields       TEXT,                         -- 'plain': entries as pushed; NULL or 'ezra': with attempts fields
  entries_added      INTEGER NOT NULL DEFAULT 0,   -- XINFO STREAM's entries-added
  fields_bytes_max   INTEGER NOT NULL DEFAULT 0,   -- largest task pushed: claims of fat tasks are sized by bytes
  max_deleted_ms     INTEGER NOT NULL DEFAULT 0,   -- XINFO STREAM's max-deleted-entry-id: largest id XDEL removed
  max_deleted_seq    INTEGER NOT NULL DEFAULT 0,   --   (or XSETID MAXDELETEDID set); 0-0 for a v1 file, as Redis starts
  created_at         INTEGER NOT NULL
);

CREATE TABLE groups (
  queue       TEXT NOT NULL,
  name        TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (queue, name)
) WITHOUT ROWID;

CREATE TABLE consumers (
  queue       TEXT NOT NULL,
  grp         TEXT NOT NULL,
  name        TEXT NOT NULL,
  seen_at     INTEGER NOT NULL,                    -- last command from this consumer
  active_at   INTEGER,                             -- last successful claim
  PRIMARY KEY (queue, grp, name)
) WITHOUT ROWID;

-- Written once by the push; a dead task keeps its payload row (same queue id, same task id).
CREATE TABLE task_payloads (
  queue_id    INTEGER NOT NULL,
  ms          INTEGER NOT NULL,                    -- id = ms-seq, as in Redis streams
  seq         INTEGER NOT NULL,
  created_at  INTEGER NOT NULL,
  fields      BLOB NOT NULL,                       -- TEXT: JSON array [f1, v1, ...] when all fields are UTF-8, else a binary field list
  PRIMARY KEY (queue_id, ms, seq)
) WITHOUT ROWID;

CREATE TABLE task_state (
  key           INTEGER NOT NULL,                  -- queues.id * 2, + 1 in the dead view
  ms            INTEGER NOT NULL,
  seq           INTEGER NOT NULL,
  status        INTEGER NOT NULL DEFAULT 0,        -- 0 available, 1 in_flight, 2 done, 3 dead
  attempts      INTEGER NOT NULL DEFAULT 0,        -- deliveries so far
  max_attempts  INTEGER,                           -- NULL: the queue's setting
  priority      INTEGER NOT NULL DEFAULT 0,        -- reserved for priorities (higher first)
  run_at        INTEGER,                           -- reserved for scheduled tasks: not before this
  unique_key    BLOB,                              -- reserved for unique tasks
  worker        TEXT,                              -- consumer holding (or last holding) the task
  grp           TEXT,                              -- group it was claimed through
  lease_until   INTEGER,                           -- in_flight: when the lease runs out (ms since epoch)
  delivered_at  INTEGER,
  finished_at   INTEGER,
  purge_at      INTEGER,                           -- done: when retention deletes it
  expires_at    INTEGER,                           -- ttl: when the task is removed whatever its state
  last_error    TEXT,
  result        BLOB,                              -- reserved for results
  progress      BLOB,                              -- reserved for progress reports
  PRIMARY KEY (key, ms, seq)
) WITHOUT ROWID;

-- One secondary index, partial: a task is in it only if pushed with a ttl. Claims, acks and
-- nacks touch no index: the waiting order (waiting.ts), the tasks in flight (held.ts) and
-- retention's due times (retention.ts) are kept in memory by the driver, rebuilt from one scan
-- at start (test/drivers/sqlite-plans.test.ts checks the plans, docs/storage.md the cost).
CREATE INDEX task_expiry ON task_state (expires_at) WHERE expires_at IS NOT NULL;

-- For people: one row per task with names, states and times spelled out. The payload's
-- columns are subqueries, read only when selected: a count by queue and state over 1M tasks
-- took 3.1 s through a JOIN of task_payloads, 2.0 s like this.
CREATE VIEW tasks AS
SELECT
  q.name || CASE WHEN s.key & 1 THEN '::dead' ELSE '' END AS queue,
  s.ms || '-' || s.seq AS id,
  s.ms AS ms,
  s.seq AS seq,
  CASE s.status WHEN 0 THEN 'available' WHEN 1 THEN 'in_flight' WHEN 2 THEN 'done' ELSE 'dead' END AS status,
  (SELECT p.fields FROM task_payloads p WHERE p.queue_id = s.key >> 1 AND p.ms = s.ms AND p.seq = s.seq) AS fields,
  s.attempts AS attempts,
  s.max_attempts AS max_attempts,
  s.worker AS worker,
  s.grp AS grp,
  s.last_error AS last_error,
  strftime('%Y-%m-%dT%H:%M:%fZ', (SELECT p.created_at FROM task_payloads p WHERE p.queue_id = s.key >> 1 AND p.ms = s.ms AND p.seq = s.seq) / 1000.0, 'unixepoch') AS created,
  strftime('%Y-%m-%dT%H:%M:%fZ', s.delivered_at / 1000.0, 'unixepoch') AS delivered,
  strftime('%Y-%m-%dT%H:%M:%fZ', s.lease_until / 1000.0, 'unixepoch') AS lease_ends,
  strftime('%Y-%m-%dT%H:%M:%fZ', s.finished_at / 1000.0, 'unixepoch') AS finished,
  strftime('%Y-%m-%dT%H:%M:%fZ', s.expires_at / 1000.0, 'unixepoch') AS expires,
  (SELECT p.created_at FROM task_payloads p WHERE p.queue_id = s.key >> 1 AND p.ms = s.ms AND p.seq = s.seq) AS created_at,
  s.delivered_at AS delivered_at,
  s.lease_until AS lease_until,
  s.finished_at AS finished_at,
  s.purge_at AS purge_at,
  s.expires_at AS expires_at,
  s.priority AS priority,
  s.run_at AS run_at,
  s.result AS result,
  s.progress AS progress
FROM task_state s
JOIN queues q ON q.id = s.key >> 1;

-- A task whose state row goes (ack in the dead view, XDEL, trims, ttl, retention, DEL) loses
-- its payload in the same statement, so no path can leave a payload without its task.
CREATE TRIGGER task_state_gone AFTER DELETE ON task_state BEGIN
  DELETE FROM task_payloads WHERE queue_id = old.key >> 1 AND ms = old.ms AND seq = old.seq;
END;
