// Disk-side measures next to the workloads: the size of ezra's WAL sampled while a load runs,
// and the disk's own fsync'd sequential write rate (dd) in the data dir's file system.
import { rmSync, statSync } from "node:fs";
import { join } from "node:path";

const WAL_SAMPLE_MS = 100;

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0; // not created yet, or removed by a checkpoint in TRUNCATE mode
  }
}

export interface WalSampler {
  /** Stops sampling; the largest size seen and the size now, in bytes. */
  stop(): { walMaxBytes: number; walFinalBytes: number };
}

/** Samples <dataDir>/ezra.db-wal every 100 ms until stop(). */
export function sampleWal(dataDir: string): WalSampler {
  const path = join(dataDir, "ezra.db-wal");
  let max = sizeOf(path);
  const timer = setInterval(() => {
    max = Math.max(max, sizeOf(path));
  }, WAL_SAMPLE_MS);
  return {
    stop() {
      clearInterval(timer);
      const final = sizeOf(path);
      return { walMaxBytes: Math.max(max, final), walFinalBytes: final };
    },
  };
}

/** Parses dd's summary line ("131072000 bytes (131 MB, 125 MiB) copied, 1.04 s, 126 MB/s") into MB/s (10^6 bytes). */
export function parseDd(stderr: string): { bytes: number; seconds: number; mbPerSec: number } {
  const m = /(\d+) bytes\b.*copied, ([\d.]+(?:e[-+]?\d+)?) s/.exec(stderr);
  if (!m) throw new Error(`dd: no summary line in ${JSON.stringify(stderr.slice(-300))}`);
  const bytes = Number(m[1]);
  const seconds = Number(m[2]);
  return { bytes, seconds, mbPerSec: Number((bytes / 1e6 / seconds).toFixed(1)) };
}

/**
 * The disk's fsync'd sequential write rate where `dir` lives:
 * `dd if=/dev/zero of=<dir>/dd-probe bs=64k count=<blocks> conv=fdatasync`, file removed after.
 */
export function ddRate(dir: string, blocks: number): { ddBytes: number; ddMBps: number } {
  const file = join(dir, "dd-probe");
  try {
    // LC_ALL=C: a fixed summary format (no decimal commas, no translated words).
    const dd = Bun.spawnSync(["dd", "if=/dev/zero", `of=${file}`, "bs=64k", `count=${blocks}`, "conv=fdatasync"], {
      env: { ...process.env, LC_ALL: "C" },
      stderr: "pipe",
      stdout: "ignore",
    });
    const err = dd.stderr.toString();
    if (dd.exitCode !== 0) throw new Error(`dd exited ${dd.exitCode}: ${err.trim()}`);
    const r = parseDd(err);
    return { ddBytes: r.bytes, ddMBps: r.mbPerSec };
  } finally {
    rmSync(file, { force: true });
  }
}
