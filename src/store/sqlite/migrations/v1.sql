-- ezra's database schema, version 1 (PRAGMA user_version = 1): what the first release wrote.
-- Kept for migrate.ts's tests and the storage lab; schema.sql is the current one.
-- One row per task in `tasks`; a person can read it with any SQLite browser.

CREATE TABLE queues (
  name               TEXT PRIMARY KEY,
  last_ms            INTEGER NOT NULL DEFAULT 0,   -- last id handed out, so ids never go back
  last_seq           INTEGER NOT NULL DEFAULT 0,
  visibility_timeout_ms INTEGER,                   -- NULL: the server-wide default
  max_attempts       INTEGER,
  retention_ms       INTEGER,
  entries_added      INTEGER NOT NULL DEFAULT 0,   -- XINFO STREAM's entries-added
  fields_bytes_max   INTEGER NOT NULL DEFAULT 0,   -- largest task pushed: claims of fat tasks are sized by bytes
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

CREATE TABLE tasks (
  queue         TEXT NOT NULL,
  ms            INTEGER NOT NULL,                  -- id = ms-seq, as in Redis streams
  seq           INTEGER NOT NULL,
  -- Spelled with OR, not IN (...): SQLite builds a temporary b-tree for an IN list on every
  -- row written, which made each insert and status change ~40% slower.
  status        TEXT NOT NULL CHECK (status = 'available' OR status = 'in_flight' OR status = 'done' OR status = 'dead'),
  fields        BLOB NOT NULL,                     -- TEXT: JSON array [f1, v1, ...] when all fields are UTF-8, else a binary field list
  attempts      INTEGER NOT NULL DEFAULT 0,        -- deliveries so far
  max_attempts  INTEGER,                           -- NULL: the queue's setting
  worker        TEXT,                              -- consumer holding (or last holding) the task
  grp           TEXT,                              -- group it was claimed through
  lease_until   INTEGER,                           -- in_flight: when the lease runs out (ms since epoch)
  expires_at    INTEGER,                           -- ttl: when the task is removed whatever its state
  purge_at      INTEGER,                           -- done: when retention deletes it
  last_error    TEXT,
  created_at    INTEGER NOT NULL,
  delivered_at  INTEGER,
  finished_at   INTEGER
);

CREATE UNIQUE INDEX tasks_by_id ON tasks (queue, ms, seq);
-- The claim query walks this index in id order within one queue and status.
CREATE INDEX tasks_by_status ON tasks (queue, status, ms, seq);
CREATE INDEX tasks_lease ON tasks (lease_until) WHERE status = 'in_flight';
CREATE INDEX tasks_purge ON tasks (purge_at) WHERE status = 'done';
CREATE INDEX tasks_expiry ON tasks (expires_at) WHERE expires_at IS NOT NULL;
