// Storage faults against the real server: a full disk (a small tmpfs) and a read-only mount make
// writes fail with a clear error while reads go on; a corrupt or foreign ezra.db stops start-up
// with one line and a non-zero exit, leaving the file byte-identical.
import { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import Redis from "ioredis";
import { seededRandom } from "../scripts/torture.ts";
import { storageError } from "../src/commands/router.ts";
import { StorageError } from "../src/store/driver.ts";
import { BUN, ROOT, removeDir, startEzra, tempDir } from "./helpers/servers.ts";
import { requireTool, TOOLS } from "./helpers/tools.ts";

const FULL_DISK_KIB = 1024;
const ROOMY_DISK_KIB = 64 * 1024;
const PAYLOAD_BYTES = 2000;
const WRITERS = 4;
// Storage errors each writer collects before it stops: enough to cover many failed turns.
const ERRORS_PER_WRITER = 10;
const ATTEMPTS_PER_WRITER_MAX = 5000;
type ReadReply = [string, [string, string[]][]][] | null;
const FULL_ERROR = /^ERR ezra storage error, nothing was stored: database or disk is full/;

// The disk-full and read-only tests mount a tmpfs: root (or CAP_SYS_ADMIN) only.
const canMount = requireTool(TOOLS.tmpfsMount, "the disk-full and read-only tests");

const mounts: string[] = [];
afterAll(() => {
  for (const dir of mounts) Bun.spawnSync(["umount", "-l", dir]);
  for (const dir of mounts) removeDir(dir);
});

/** A tmpfs of `kib` KiB (needs root: only in tests skipped unless `canMount`). */
function mountTmpfs(kib: number): string {
  const dir = tempDir("ezra-tmpfs-");
  const result = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", `size=${kib}k`, "tmpfs", dir], { stderr: "pipe" });
  if (result.exitCode !== 0) {
    removeDir(dir);
    throw new Error(`mount -t tmpfs failed: ${result.stderr.toString().trim()}`);
  }
  mounts.push(dir);
  return dir;
}

function remount(dir: string, options: string): void {
  const result = Bun.spawnSync(["mount", "-o", `remount,${options}`, dir], { stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`remount ${options} failed: ${result.stderr}`);
}

function client(port: number): Redis {
  const redis = new Redis({ port, host: "127.0.0.1", maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on("error", () => {});
  return redis;
}

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

/** Runs the server on `dataDir` and expects it to refuse to start; returns its stderr. */
function expectStartFailure(dataDir: string): string {
  const result = Bun.spawnSync([BUN, join(ROOT, "src", "main.ts"), "--data-dir", dataDir, "--port", "0"], {
    cwd: ROOT,
    stdout: "pipe",
    stderr: "pipe",
    timeout: 15_000,
  });
  const stderr = result.stderr.toString();
  expect(result.exitCode).not.toBe(0);
  expect(result.exitCode).not.toBeNull();
  expect(stderr).not.toContain("    at "); // one clear line, not a stack trace
  return stderr;
}

/** Pushes until ERRORS_PER_WRITER storage errors; returns payload by replied id, and the errors. */
async function fillDisk(redis: Redis, writer: number) {
  const stored = new Map<string, string>();
  const errors: string[] = [];
  for (let n = 0; n < ATTEMPTS_PER_WRITER_MAX && errors.length < ERRORS_PER_WRITER; n++) {
    const payload = `w${writer}-${n}-${"y".repeat(PAYLOAD_BYTES)}`;
    try {
      stored.set(await redis.xadd("q", "*", "p", payload) as string, payload);
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  return { stored, errors };
}

/** Appends to a filler file until the file system is full. */
function fillWithBallast(path: string): void {
  const chunk = new Uint8Array(16 * 1024);
  const fd = openSync(path, "a");
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
  } finally {
    closeSync(fd);
  }
}

test.skipIf(!canMount)("disk full: writes answer a clear error, reads go on, and writes work again when space returns", async () => {
  const dir = mountTmpfs(FULL_DISK_KIB);
  // A short lease: the lease-expiry timer has to run, and fail, while the disk is full.
  const server = await startEzra({ dataDir: dir, args: ["--visibility-timeout", "1"] });
  const redis = client(server.port);
  const writers = Array.from({ length: WRITERS }, () => client(server.port));
  const results = await Promise.all(writers.map((w, i) => fillDisk(w, i)));
  const stored = new Map<string, string>();
  for (const r of results) for (const [id, payload] of r.stored) stored.set(id, payload);
  const errors = results.flatMap((r) => r.errors);
  expect(stored.size).toBeGreaterThan(0);
  expect(errors.length).toBe(WRITERS * ERRORS_PER_WRITER);
  for (const message of errors) expect(message).toMatch(FULL_ERROR);

  // Reads answer from what is committed.
  expect(await redis.ping()).toBe("PONG");
  expect(await redis.xlen("q")).toBe(stored.size);
  const firstTwo = (await redis.xrange("q", "-", "+", "COUNT", 2)) as [string, string[]][];
  expect(firstTwo[1][1][1]).toBe(stored.get(firstTwo[1][0]) as string);
  const info = (await redis.call("XINFO", "STREAM", "q")) as unknown[];
  expect(info[info.indexOf("ezra-available") + 1]).toBe(stored.size);
  // Reads pipelined ahead of a failing write in the same turn keep their (committed) answers.
  const mixed = (await redis.pipeline().xlen("q").xrange("q", "-", "+", "COUNT", 1).xadd("q", "*", "p", "y".repeat(PAYLOAD_BYTES * 8)).exec()) ?? [];
  expect(mixed[0]).toEqual([null, stored.size]);
  expect(mixed[1][1]).toEqual([firstTwo[0]]);
  expect((mixed[2][0] as Error).message).toMatch(FULL_ERROR);

  // A little room for one claim, then full again while its lease runs out: the expiry timer's
  // write fails, and the server must carry on (no crash, no busy loop that fails every turn).
  remount(dir, `size=${FULL_DISK_KIB + 256}k`);
  const claimed = (await redis.xreadgroup("GROUP", "g", "c", "COUNT", 1, "STREAMS", "q", ">")) as ReadReply;
  expect(claimed?.[0][1]).toHaveLength(1);
  fillWithBallast(join(dir, "ballast"));
  // A small write can still land in WAL pages SQLite allocated earlier (the claim above writes
  // nothing since deliveries are held in memory); a few more fill that slack, then writes fail.
  let refusal: Error | null = null;
  for (let i = 0; i < 64 && !refusal; i++) {
    try {
      const id = (await redis.xadd("q", "*", "p", "y".repeat(PAYLOAD_BYTES))) as string;
      stored.set(id, "y".repeat(PAYLOAD_BYTES));
    } catch (err) {
      refusal = err as Error;
    }
  }
  expect(refusal?.message).toMatch(FULL_ERROR);
  await Bun.sleep(1500); // past the lease
  expect(server.proc.exitCode).toBeNull();

  rmSync(join(dir, "ballast"));
  remount(dir, `size=${ROOMY_DISK_KIB}k`);
  const after = (await redis.xadd("q", "*", "p", "after")) as string;
  stored.set(after, "after");
  // The expired lease is released once the timer's retry can write.
  for (let i = 0; i < 100 && (await redis.xlen("q")) < stored.size; i++) await Bun.sleep(50);
  expect(await redis.xlen("q")).toBe(stored.size);
  for (const c of [redis, ...writers]) c.disconnect();
  expect(await server.stop()).toBe(0);

  // A fresh server sees every task a client was told about, with its payload, and no other.
  const again = await startEzra({ dataDir: dir });
  const check = client(again.port);
  const entries = (await check.xrange("q", "-", "+")) as [string, string[]][];
  expect(new Map(entries.map(([id, fields]) => [id, fields[1]]))).toEqual(stored);
  check.disconnect();
  expect(await again.stop()).toBe(0);
}, 60_000);

test.skipIf(!canMount)("read-only data dir: start-up refuses with a message naming the read-only file system", async () => {
  const dir = mountTmpfs(ROOMY_DISK_KIB);
  const server = await startEzra({ dataDir: dir });
  const redis = client(server.port);
  await redis.xadd("q", "*", "p", "kept");
  redis.disconnect();
  expect(await server.stop()).toBe(0);
  const before = sha256(join(dir, "ezra.db"));
  remount(dir, "ro");
  expect(expectStartFailure(dir)).toContain("read-only file system");
  expect(sha256(join(dir, "ezra.db"))).toBe(before);
  remount(dir, "rw");
  const back = await startEzra({ dataDir: dir });
  const check = client(back.port);
  expect(await check.xlen("q")).toBe(1);
  check.disconnect();
  expect(await back.stop()).toBe(0);
}, 30_000);

test("a corrupt ezra.db (random bytes) stops start-up with exit 1 and stays byte-identical", () => {
  const dir = tempDir();
  try {
    const random = seededRandom(7);
    writeFileSync(join(dir, "ezra.db"), Uint8Array.from({ length: 64 * 1024 }, () => Math.floor(random() * 256)));
    const before = sha256(join(dir, "ezra.db"));
    expect(expectStartFailure(dir)).toContain("cannot be read as an SQLite database");
    expect(sha256(join(dir, "ezra.db"))).toBe(before);
  } finally {
    removeDir(dir);
  }
});

test("an ezra.db with damaged pages stops start-up with one line, not a stack trace", async () => {
  const dir = tempDir();
  try {
    const server = await startEzra({ dataDir: dir });
    const redis = client(server.port);
    for (let i = 0; i < 300; i++) await redis.xadd("q", "*", "p", `task-${i}-${"z".repeat(300)}`);
    redis.disconnect();
    expect(await server.stop()).toBe(0);
    const bytes = readFileSync(join(dir, "ezra.db"));
    const random = seededRandom(11);
    // Keep the 100-byte header and page 1 (the schema); scribble over the pages after it.
    for (let i = 4096 * 2; i < Math.min(bytes.length, 4096 * 8); i++) bytes[i] = Math.floor(random() * 256);
    writeFileSync(join(dir, "ezra.db"), bytes);
    const before = sha256(join(dir, "ezra.db"));
    expect(expectStartFailure(dir)).toMatch(/ezra\.db.*(malformed|not a database|SQLITE_CORRUPT)/);
    expect(sha256(join(dir, "ezra.db"))).toBe(before);
  } finally {
    removeDir(dir);
  }
}, 30_000);

test("a foreign SQLite file, even with an unmerged WAL, is refused and left untouched", () => {
  const dir = tempDir();
  try {
    const app = new Database(join(dir, "other.db"), { create: true });
    app.exec("PRAGMA journal_mode = WAL");
    app.exec("PRAGMA wal_autocheckpoint = 0");
    app.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)");
    for (let i = 0; i < 50; i++) app.run("INSERT INTO users (name) VALUES (?)", [`user ${i}`]);
    // Copied while the app still has it open: the rows live only in the -wal file.
    writeFileSync(join(dir, "ezra.db"), readFileSync(join(dir, "other.db")));
    writeFileSync(join(dir, "ezra.db-wal"), readFileSync(join(dir, "other.db-wal")));
    app.close();
    const before = [sha256(join(dir, "ezra.db")), sha256(join(dir, "ezra.db-wal"))];
    expect(expectStartFailure(dir)).toContain("is not an ezra database");
    expect([sha256(join(dir, "ezra.db")), sha256(join(dir, "ezra.db-wal"))]).toEqual(before);
    expect(existsSync(join(dir, "ezra.db-wal"))).toBe(true);
  } finally {
    removeDir(dir);
  }
});

test("a failed fdatasync is worded apart from a failed write: the turn is in the file, the disk did not confirm it", () => {
  const failed = storageError(new StorageError("FAILED", "database or disk is full"));
  expect(failed.reply).toBe("ERR ezra storage error, nothing was stored: database or disk is full");
  const unconfirmed = storageError(new StorageError("NOT_DURABLE", "fdatasync of ezra.db-wal failed: EIO"));
  expect(unconfirmed.reply).toBe("ERR ezra storage error, written but not confirmed on disk (a power cut may undo it): fdatasync of ezra.db-wal failed: EIO");
});
