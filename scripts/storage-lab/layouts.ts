// The four table layouts the lab compares, and each one's insert / claim / ack statements in
// three styles: one statement per task ("row"), 16 keys per statement as a VALUES list
// ("values"), or 16 keys per statement as a JSON array read by json_each ("json"); "mixed" is
// multi-row INSERTs (as values) with one claim or ack statement per task (as row).
// Layout a is today's schema (read from src/store/sqlite/migrations/v1.sql) driven the way src/store drives it.
import { Database } from "bun:sqlite";
import { readFileSync } from "node:fs";

export type Layout = "a" | "b" | "c" | "d" | "e";
export type Style = "row" | "values" | "json" | "mixed";
export const LAYOUTS: Layout[] = ["a", "b", "c", "d", "e"];
export const STYLES: Style[] = ["row", "values", "json", "mixed"];

export const LAYOUT_NAMES: Record<Layout, string> = {
  a: "(a) today's tasks + 5 indexes",
  b: "(b) WITHOUT ROWID (queue_id, ms, seq), int status",
  c: "(c) (b) + job-feature columns, not indexed",
  d: "(d) (b) split: payload row once + small state row",
  e: "(e) (c) split: payload + fixed columns once, state row with group_id",
};

/** Keys per claim or ack statement in the set styles (the bench's COUNT 16 and XACK of 16). */
export const KEYS_PER_STATEMENT = 16;
/** Rows per multi-row INSERT in the set styles. */
export const ROWS_PER_INSERT = 64;

const SCHEMA_A = readFileSync(new URL("../../src/store/sqlite/migrations/v1.sql", import.meta.url), "utf8");

// Mutable small columns first, the payload last: SQLite reads a row's columns in order.
export const DDL: Record<Exclude<Layout, "a">, string> = {
  b: `CREATE TABLE tasks (queue_id INTEGER NOT NULL, ms INTEGER NOT NULL, seq INTEGER NOT NULL,
        status INTEGER NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (queue_id, ms, seq)) WITHOUT ROWID;`,
  c: `CREATE TABLE tasks (queue_id INTEGER NOT NULL, ms INTEGER NOT NULL, seq INTEGER NOT NULL,
        status INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, priority INTEGER NOT NULL DEFAULT 0,
        run_at INTEGER, lease_until INTEGER, worker INTEGER, finished_at INTEGER, progress BLOB,
        unique_key BLOB, last_error TEXT, result BLOB, payload BLOB NOT NULL,
        PRIMARY KEY (queue_id, ms, seq)) WITHOUT ROWID;`,
  d: `CREATE TABLE payloads (queue_id INTEGER NOT NULL, ms INTEGER NOT NULL, seq INTEGER NOT NULL,
        payload BLOB NOT NULL, PRIMARY KEY (queue_id, ms, seq)) WITHOUT ROWID;
      CREATE TABLE state (queue_id INTEGER NOT NULL, ms INTEGER NOT NULL, seq INTEGER NOT NULL,
        status INTEGER NOT NULL, PRIMARY KEY (queue_id, ms, seq)) WITHOUT ROWID;`,
  // Not in the brief: (c)'s columns split the (d) way, what docs/storage.md recommends. The state
  // key carries a group id (0: the shared work queue) for per-group delivery state later.
  e: `CREATE TABLE payloads (queue_id INTEGER NOT NULL, ms INTEGER NOT NULL, seq INTEGER NOT NULL,
        priority INTEGER NOT NULL DEFAULT 0, run_at INTEGER, unique_key BLOB, payload BLOB NOT NULL,
        PRIMARY KEY (queue_id, ms, seq)) WITHOUT ROWID;
      CREATE TABLE state (queue_id INTEGER NOT NULL, ms INTEGER NOT NULL, seq INTEGER NOT NULL,
        group_id INTEGER NOT NULL, status INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        lease_until INTEGER, worker INTEGER, finished_at INTEGER, progress BLOB, last_error TEXT, result BLOB,
        PRIMARY KEY (queue_id, ms, seq, group_id)) WITHOUT ROWID;`,
};

export const T0 = 1_790_000_000_000;
/** Task i's id: 8 tasks per millisecond, as a busy XADD stream would hand out. */
export const msOf = (i: number) => T0 + Math.floor(i / 8);
export const seqOf = (i: number) => i % 8;
const QUEUE_ID = 1;
const QUEUE_NAME = "tasks";

export function openDb(path: string, layout: Layout, sync: "full" | "normal"): Database {
  const db = new Database(path, { create: true });
  db.exec("PRAGMA journal_mode = WAL");
  db.exec(`PRAGMA synchronous = ${sync.toUpperCase()}`);
  db.exec("PRAGMA cache_size = -65536"); // ezra's setting
  db.exec("PRAGMA wal_autocheckpoint = 0"); // WAL growth = bytes committed (ezra checkpoints on a thread)
  db.exec(layout === "a" ? SCHEMA_A : DDL[layout]);
  return db;
}

/** One transaction's work on tasks [from, from + n): what a server turn would run. */
export interface Ops {
  insert(from: number, n: number): void;
  /** Claims n waiting tasks starting at `from` (layout a: the oldest n, found by its index). */
  claim(from: number, n: number): number;
  ack(from: number, n: number): void;
}

// "(?,?,?),(?,?,?)..." for n rows of k parameters.
const rows = (n: number, k: number) => Array.from({ length: n }, () => `(${Array(k).fill("?").join(",")})`).join(",");

/** WHERE clause matching `n` keys given as parameters after `first` leading ones. */
function keysIn(style: Style, cols: string, n: number): string {
  if (style === "json") return `(${cols}) IN (SELECT ${QUEUE_ID}, value->>0, value->>1 FROM json_each(?))`;
  return `(${cols}) IN (VALUES ${rows(n, 3)})`;
}

function keyArgs(style: Style, from: number, n: number, queue: string | number): unknown[] {
  if (style === "json") {
    const ids: number[][] = [];
    for (let i = from; i < from + n; i++) ids.push([msOf(i), seqOf(i)]);
    return [JSON.stringify(ids)];
  }
  const args: unknown[] = [];
  for (let i = from; i < from + n; i++) args.push(queue, msOf(i), seqOf(i));
  return args;
}

/** Statement per task (row) or one per chunk of `chunk` tasks (values/json). */
function chunked(style: Style, chunk: number, from: number, n: number, one: (i: number) => void, many: (i: number, k: number) => void) {
  if (style === "row") for (let i = from; i < from + n; i++) one(i);
  else for (let i = from; i < from + n; i += chunk) many(i, Math.min(chunk, from + n - i));
}

/**
 * How a claim gets the payloads its reply needs: "none" (they are held in memory), "select"
 * (one SELECT by key, then the UPDATE) or "returning" (UPDATE ... RETURNING). Layout a always
 * reads them in its claim SELECT, as ezra does today.
 */
export type Read = "none" | "select" | "returning";

export function makeOps(db: Database, layout: Layout, style: Style, payload: Uint8Array, read: Read): Ops {
  if (style === "mixed") {
    const rows = makeOps(db, layout, "row", payload, read);
    return { insert: makeOps(db, layout, "values", payload, read).insert, claim: rows.claim, ack: rows.ack };
  }
  return layout === "a" ? opsA(db, style, payload) : opsBCD(db, layout, style, payload, read);
}

function opsA(db: Database, style: Style, payload: Uint8Array): Ops {
  // ezra stores fields as a JSON array when they are UTF-8, as the bench's are.
  const fields = JSON.stringify(["payload", new TextDecoder().decode(payload)]);
  const now = T0;
  const insertCols = "(queue, ms, seq, status, fields, max_attempts, expires_at, created_at)";
  const tuple = "(?, ?, ?, 'available', ?, NULL, NULL, ?)";
  const insertOne = db.query(`INSERT INTO tasks ${insertCols} VALUES ${tuple}`);
  const insertMany = db.query(`INSERT INTO tasks ${insertCols} VALUES ${Array(ROWS_PER_INSERT).fill(tuple).join(", ")}`);
  // Today's claim: the oldest available rows through tasks_by_status, LIMIT written in, then
  // an UPDATE by rowid (src/store/sqlite/statements.ts claimableAny / claimRow).
  const claimable = db.query<{ rowid: number; fields: string }, [string, string]>(
    `SELECT rowid, ms, seq, fields, attempts, max_attempts FROM tasks
     WHERE queue = CAST(?1 AS TEXT) AND status = CAST(?2 AS TEXT) ORDER BY ms, seq LIMIT ${KEYS_PER_STATEMENT}`,
  );
  const claimSet = `status = 'in_flight', attempts = attempts + 1, worker = 'c0', grp = 'bench',
    lease_until = ${now + 30_000}, delivered_at = ${now}, finished_at = NULL, purge_at = NULL`;
  const claimRow = db.query(`UPDATE tasks SET ${claimSet} WHERE rowid = ?`);
  const claimRows = style === "json"
    ? db.query(`UPDATE tasks SET ${claimSet} WHERE rowid IN (SELECT value FROM json_each(?))`)
    : db.query(`UPDATE tasks SET ${claimSet} WHERE rowid IN (VALUES ${rows(KEYS_PER_STATEMENT, 1)})`);
  const ackSet = `status = 'done', lease_until = NULL, finished_at = ${now}, purge_at = ${now + 3_600_000}`;
  const ackOne = db.query(`UPDATE tasks SET ${ackSet} WHERE queue = ? AND ms = ? AND seq = ? AND status = 'in_flight'`);
  const ackMany = db.query(
    `UPDATE tasks SET ${ackSet} WHERE ${keysIn(style, "queue, ms, seq", KEYS_PER_STATEMENT).replace(`${QUEUE_ID},`, `'${QUEUE_NAME}',`)}
     AND status = 'in_flight'`,
  );
  return {
    insert(from, n) {
      chunked(style, ROWS_PER_INSERT, from, n, (i) => insertOne.run(QUEUE_NAME, msOf(i), seqOf(i), fields, now), (i, k) => {
        if (k !== ROWS_PER_INSERT) throw new Error("batch must be a multiple of 64");
        const args: unknown[] = [];
        for (let j = i; j < i + k; j++) args.push(QUEUE_NAME, msOf(j), seqOf(j), fields, now);
        insertMany.run(...(args as [any]));
      });
    },
    claim(_from, n) {
      let got = 0;
      for (let left = n; left > 0; left -= KEYS_PER_STATEMENT) {
        const found = claimable.all(QUEUE_NAME, "available");
        const ids = found.map((r) => r.rowid);
        if (style === "row") for (const id of ids) claimRow.run(id);
        else if (ids.length === KEYS_PER_STATEMENT) claimRows.run(...((style === "json" ? [JSON.stringify(ids)] : ids) as [any]));
        else throw new Error("claim found fewer rows than asked");
        got += found.length;
      }
      return got;
    },
    ack(from, n) {
      chunked(style, KEYS_PER_STATEMENT, from, n, (i) => ackOne.run(QUEUE_NAME, msOf(i), seqOf(i)), (i, k) => {
        if (k !== KEYS_PER_STATEMENT) throw new Error("batch must be a multiple of 16");
        ackMany.run(...(keyArgs(style, i, k, QUEUE_NAME) as [any]));
      });
    },
  };
}

function opsBCD(db: Database, layout: "b" | "c" | "d" | "e", style: Style, payload: Uint8Array, read: Read): Ops {
  const now = T0;
  const split = layout === "d" || layout === "e";
  const group = layout === "e" ? " AND group_id = 0" : "";
  const key = "queue_id = ? AND ms = ? AND seq = ?";
  const keySet = (n: number) => keysIn(style, "queue_id, ms, seq", n);
  const table = split ? "state" : "tasks";
  const payloadTable = split ? "payloads" : "tasks";
  const returning = read !== "returning" ? "" : split
    ? "RETURNING (SELECT payload FROM payloads p WHERE p.queue_id = state.queue_id AND p.ms = state.ms AND p.seq = state.seq)"
    : "RETURNING payload";
  const wide = layout === "c" || layout === "e";
  const claimSet = wide ? `status = 1, attempts = attempts + 1, lease_until = ${now + 30_000}, worker = 7` : "status = 1";
  const ackSet = wide ? `status = 2, lease_until = NULL, finished_at = ${now}, result = NULL` : "status = 2";
  const claimOne = db.query(`UPDATE ${table} SET ${claimSet} WHERE ${key}${group} AND status = 0 ${returning}`);
  const claimMany = db.query(`UPDATE ${table} SET ${claimSet} WHERE ${keySet(KEYS_PER_STATEMENT)}${group} AND status = 0 ${returning}`);
  const readOne = db.query(`SELECT payload FROM ${payloadTable} WHERE ${key}`);
  const readMany = db.query(`SELECT payload FROM ${payloadTable} WHERE ${keySet(KEYS_PER_STATEMENT)}`);
  const ackOne = db.query(`UPDATE ${table} SET ${ackSet} WHERE ${key}${group} AND status = 1`);
  const ackMany = db.query(`UPDATE ${table} SET ${ackSet} WHERE ${keySet(KEYS_PER_STATEMENT)}${group} AND status = 1`);

  // Each table a push writes: its VALUES tuple (key first, "?" = bound) and whether it binds the payload.
  const specs =
    layout === "e"
      ? [{ table: "payloads", tuple: "(?, ?, ?, 0, NULL, NULL, ?)", bindsPayload: true },
         { table: "state", tuple: "(?, ?, ?, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL)", bindsPayload: false }]
      : layout === "d"
      ? [{ table: "payloads", tuple: "(?, ?, ?, ?)", bindsPayload: true }, { table: "state", tuple: "(?, ?, ?, 0)", bindsPayload: false }]
      : layout === "c"
        ? [{ table: "tasks", tuple: "(?, ?, ?, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, ?)", bindsPayload: true }]
        : [{ table: "tasks", tuple: "(?, ?, ?, 0, ?)", bindsPayload: true }];
  const inserts = specs.map((s) => ({
    one: db.query(`INSERT INTO ${s.table} VALUES ${s.tuple}`),
    many: db.query(`INSERT INTO ${s.table} VALUES ${Array(ROWS_PER_INSERT).fill(s.tuple).join(", ")}`),
    bindsPayload: s.bindsPayload,
  }));

  return {
    insert(from, n) {
      for (const { one, many, bindsPayload } of inserts) {
        chunked(style, ROWS_PER_INSERT, from, n, (i) => {
          if (bindsPayload) one.run(QUEUE_ID, msOf(i), seqOf(i), payload);
          else one.run(QUEUE_ID, msOf(i), seqOf(i));
        }, (i, k) => {
          if (k !== ROWS_PER_INSERT) throw new Error("batch must be a multiple of 64");
          const a: unknown[] = [];
          for (let j = i; j < i + k; j++) bindsPayload ? a.push(QUEUE_ID, msOf(j), seqOf(j), payload) : a.push(QUEUE_ID, msOf(j), seqOf(j));
          many.run(...(a as [any]));
        });
      }
    },
    claim(from, n) {
      let got = 0;
      chunked(style, KEYS_PER_STATEMENT, from, n, (i) => {
        if (read === "select") readOne.values(QUEUE_ID, msOf(i), seqOf(i));
        if (read === "returning") got += claimOne.values(QUEUE_ID, msOf(i), seqOf(i)).length;
        else got += claimOne.run(QUEUE_ID, msOf(i), seqOf(i)).changes;
      }, (i, k) => {
        if (k !== KEYS_PER_STATEMENT) throw new Error("batch must be a multiple of 16");
        const args = keyArgs(style, i, k, QUEUE_ID) as [any];
        if (read === "select") readMany.values(...args);
        if (read === "returning") got += claimMany.values(...args).length;
        else got += claimMany.run(...args).changes;
      });
      return got;
    },
    ack(from, n) {
      chunked(style, KEYS_PER_STATEMENT, from, n, (i) => ackOne.run(QUEUE_ID, msOf(i), seqOf(i)), (i, k) => {
        if (k !== KEYS_PER_STATEMENT) throw new Error("batch must be a multiple of 16");
        ackMany.run(...(keyArgs(style, i, k, QUEUE_ID) as [any]));
      });
    },
  };
}
