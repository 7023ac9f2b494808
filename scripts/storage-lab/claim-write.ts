#!/usr/bin/env bun
// Cost per task lifecycle (push insert, claim update, ack update, COMMIT; 64 tasks a
// transaction, NORMAL) of the server's own statements on its own schema, with schema 2's partial
// indexes put back or not, and with the claim's UPDATE skipped (claims held in memory, the ack
// writing the claim's columns). Variants are interleaved; the machine drifts.
// usage: bun scripts/storage-lab/claim-write.ts [tasks=200000]
import { Database } from "bun:sqlite";
import { readFileSync, rmSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { TASK_SQL } from "../../src/store/sqlite/statements.ts";
const schema = readFileSync(join(import.meta.dir, "../../src/store/sqlite/schema.sql"), "utf8");
const N = Number(process.argv[2] ?? 200000), B = 64;
function run(variant: string) {
  const dir = mkdtempSync(join(tmpdir(), "idx-"));
  const db = new Database(join(dir, "x.db"));
  db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
  db.exec(schema);
  if (variant.includes("held")) db.exec("CREATE INDEX task_held ON task_state (key, grp, ms, seq, lease_until) WHERE status = 1");
  if (variant.includes("done")) db.exec("CREATE INDEX task_done ON task_state (purge_at) WHERE status = 2");
    db.exec("INSERT INTO queues (name, created_at) VALUES ('q', 0)");
  const vals = (n: number) => Array(n).fill("(?,?,?,?,?)").join(",");
  const insP = db.query(TASK_SQL.insertPayloads + vals(B));
  const insS = db.query(TASK_SQL.insertStates + vals(B));
  const claim = db.query(TASK_SQL.claimRow);
  const ack = db.query(`UPDATE task_state SET status = 2, lease_until = NULL, finished_at = ?4, purge_at = ?5 WHERE key = ?1 AND ms = ?2 AND seq = ?3 AND status = 1`);
  const ackAll = db.query(TASK_SQL.ack);
  const unwritten = variant.includes("unwritten");
  const begin = db.query("BEGIN"), commit = db.query("COMMIT");
  const payload = JSON.stringify(["f", "x".repeat(58)]);
  const t = [0, 0, 0, 0];
  const batches = N / B;
  const t0 = performance.now();
  for (let k = 0; k < batches + 2; k++) {
    begin.run();
    let a = performance.now();
    if (k >= 2) for (let i = (k - 2) * B; i < (k - 1) * B; i++) unwritten ? ackAll.run(2, i, 0, 1, "w", "g", 1, 1, 2) : ack.run(2, i, 0, 1, 2);
    let b = performance.now(); t[2] += b - a; a = b;
    if (!unwritten && k >= 1 && k - 1 < batches) for (let i = (k - 1) * B; i < k * B; i++) claim.run(2, i, 0, 1, 1, "w", "g", 5, 1, null, null);
    b = performance.now(); t[1] += b - a; a = b;
    if (k < batches) {
      const p: any[] = [], s: any[] = [];
      for (let i = k * B; i < (k + 1) * B; i++) { p.push(1, i, 0, 0, payload); s.push(2, i, 0, null, null); }
      insP.run(...p); insS.run(...s);
    }
    b = performance.now(); t[0] += b - a; a = b;
    commit.run();
    t[3] += performance.now() - a;
  }
  const total = performance.now() - t0;
  db.close(); rmSync(dir, { recursive: true });
  return `${variant.padEnd(20)} total ${(total * 1000 / N).toFixed(2)} us/task  insert ${(t[0] * 1000 / N).toFixed(2)} claim ${(t[1] * 1000 / N).toFixed(2)} ack ${(t[2] * 1000 / N).toFixed(2)} commit ${(t[3] * 1000 / N).toFixed(2)}`;
}
for (let r = 0; r < 3; r++) for (const v of ["schema2 held+done", "schema3", "schema3 unwritten"]) console.log(run(v));
