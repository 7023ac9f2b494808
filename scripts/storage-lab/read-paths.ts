// How to read a task back in schema 2 (src/store/sqlite/schema.sql): after a claim's UPDATE,
// the reply needs the task's attempts and its payload from the other table. Compares, per task:
// the payload alone, the state alone, a JOIN of both, the same JOIN with the queue id bound,
// a correlated subquery, and the claim's UPDATE with and without RETURNING.
// Builds its own steady-state file first (pushed, claimed and acked tasks, as a server leaves it).
//
//   npx bun scripts/storage-lab/read-paths.ts [--dir DIR] [--tasks 200000] [--batches 1500]
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import schema from "../../src/store/sqlite/schema.sql" with { type: "text" };
import { TASK_COLUMNS, TASK_SQL } from "../../src/store/sqlite/statements.ts";

const { values: flags } = parseArgs({
  options: { dir: { type: "string", default: "/tmp" }, tasks: { type: "string", default: "200000" }, batches: { type: "string", default: "1500" } },
});
const dir = mkdtempSync(join(flags.dir!, "read-paths-"));
const db = new Database(join(dir, "lab.db"), { create: true, strict: true });
db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -65536");
db.exec(schema);
db.exec("INSERT INTO queues (id, name, created_at) VALUES (1, 'q', 0)");
const KEY = 2;
const text = JSON.stringify(["p", "x".repeat(60)]);
const insertPayload = db.query(`${TASK_SQL.insertPayloads} (?1, ?2, ?3, ?4, ?5)`);
const insertState = db.query(`${TASK_SQL.insertStates} (?1, ?2, ?3, ?4, ?5)`);
const claimPlain = db.query(TASK_SQL.claimRow);
const ack = db.query(TASK_SQL.ack);

// Steady state: every task pushed, claimed and acked, 16 per transaction, as the 8x8 load does.
let next = 1;
const total = Number(flags.tasks);
process.stderr.write(`building ${total} done tasks in ${dir} ...\n`);
for (let done = 0; done < total; done += 16) {
  db.exec("BEGIN");
  for (let i = 0; i < 16; i++, next++) {
    insertPayload.run(1, next, 0, 0, text);
    insertState.run(KEY, next, 0, null, null);
    claimPlain.run(KEY, next, 0, 1, 1, "w", "g", 1e13, 1, null, null);
    ack.run(KEY, next, 0, 2, 3);
  }
  db.exec("COMMIT");
}

const variants: Record<string, (ms: number) => unknown> = {};
const prepared = {
  payload: db.query("SELECT fields FROM task_payloads WHERE queue_id = ?1 AND ms = ?2 AND seq = ?3"),
  state: db.query("SELECT attempts, max_attempts FROM task_state WHERE key = ?1 AND ms = ?2 AND seq = ?3"),
  join: db.query(`SELECT s.attempts, s.max_attempts, p.fields FROM task_state s
    JOIN task_payloads p ON p.queue_id = s.key >> 1 AND p.ms = s.ms AND p.seq = s.seq WHERE s.key = ?1 AND s.ms = ?2 AND s.seq = ?3`),
  joinBound: db.query(`SELECT s.attempts, s.max_attempts, p.fields FROM task_state s
    JOIN task_payloads p ON p.queue_id = ?4 AND p.ms = s.ms AND p.seq = s.seq WHERE s.key = ?1 AND s.ms = ?2 AND s.seq = ?3`),
  subquery: db.query(`SELECT ${TASK_COLUMNS} FROM task_state s WHERE s.key = ?1 AND s.ms = ?2 AND s.seq = ?3`),
  updateReturning: db.query(`${TASK_SQL.claimRow} RETURNING attempts, max_attempts`),
};
variants["payload alone"] = (ms) => prepared.payload.get(1, ms, 0);
variants["state alone"] = (ms) => prepared.state.get(KEY, ms, 0);
variants["JOIN"] = (ms) => prepared.join.get(KEY, ms, 0);
variants["JOIN, queue id bound"] = (ms) => prepared.joinBound.get(KEY, ms, 0, 1);
variants["correlated subquery (ezra)"] = (ms) => prepared.subquery.get(KEY, ms, 0);

const timesUs: Record<string, number> = {};
const batches = Number(flags.batches);
for (let b = 0; b < batches; b++) {
  db.exec("BEGIN");
  const ids: number[] = [];
  for (let i = 0; i < 16; i++, next++) {
    insertPayload.run(1, next, 0, 0, text);
    insertState.run(KEY, next, 0, null, null);
    ids.push(next);
  }
  const time = (name: string, f: (ms: number) => unknown) => {
    const t0 = performance.now();
    for (const ms of ids) f(ms);
    timesUs[name] = (timesUs[name] ?? 0) + (performance.now() - t0) * 1000;
  };
  for (const [name, f] of Object.entries(variants)) time(name, f);
  // Each claims the batch: alternate which, so both see the same file.
  if (b % 2) time("claim UPDATE (ezra)", (ms) => claimPlain.run(KEY, ms, 0, 1, 1, "w", "g", 1e13, 1, null, null));
  else time("claim UPDATE ... RETURNING", (ms) => prepared.updateReturning.get(KEY, ms, 0, 1, 1, "w", "g", 1e13, 1, null, null));
  db.exec("COMMIT");
}
console.log(`| read (${total.toLocaleString("en-US")} done tasks in the file, 16 per transaction) | µs per task |\n|---|---|`);
for (const [name, us] of Object.entries(timesUs)) {
  const per = name.startsWith("claim") ? us / ((batches / 2) * 16) : us / (batches * 16);
  console.log(`| ${name} | ${per.toFixed(2)} |`);
}
db.close();
rmSync(dir, { recursive: true, force: true });
