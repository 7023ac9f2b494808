// The checks scripts/container-check.ts runs and test/packaging.test.ts runs one test each:
// the image (as `docker run --read-only` would start it) and the unit (as systemd would).
import { existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { type Mirror, MirrorExit, startMirror } from "./mirror.ts";
import type { ImageSpec, Unit } from "./parse.ts";
import { DYNAMIC_UID, freshVolume, hasPythonSeccomp, imageMirror, imageSpec, unitMirror, unitSpec } from "./specs.ts";

/** `docker stop` waits this long after STOPSIGNAL before SIGKILL. */
const DOCKER_STOP_GRACE_MS = 10_000;
const PASSWORD = "container-check-secret";

const CLIENT = `
const { RedisClient } = await import("bun");
const c = new RedisClient(process.env.MIRROR_URL, { autoReconnect: false, connectionTimeout: 3000 });
const out = [];
for (const [cmd, ...args] of JSON.parse(process.env.MIRROR_COMMANDS)) {
  try { out.push(await c.send(cmd, args)); } catch (e) { out.push({ error: String(e.message) }); }
}
c.close();
console.log(JSON.stringify(out));`;

/** Sends commands with Bun's RedisClient from the mirror's network; one reply (or {error}) each. */
export function send(mirror: Mirror, url: string, commands: string[][]): unknown[] {
  const r = mirror.client([process.execPath, "-e", CLIENT], { MIRROR_URL: url, MIRROR_COMMANDS: JSON.stringify(commands) });
  if (r.exitCode !== 0) throw new Error(`client exited ${r.exitCode}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!);
}

/** Reads Uid/Gid/CapEff of a host pid. */
export function processStatus(pid: number): Record<string, string> {
  const text = readFileSync(`/proc/${pid}/status`, "utf8");
  return Object.fromEntries(text.split("\n").filter(Boolean).map((l) => [l.split(":")[0], l.slice(l.indexOf(":") + 1).trim()]));
}

function assert(ok: unknown, message: string): asserts ok {
  if (!ok) throw new Error(message);
}

/** The mirror an earlier check started. */
function running(ctx: Context): Mirror {
  assert(ctx.mirror, "no running mirror: the check that starts it failed");
  return ctx.mirror;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export interface Context {
  binary: string;
  seccomp: boolean;
  spec: ImageSpec;
  unit: Unit;
  volume: string;
  mirror?: Mirror;
  pushed?: string;
  cleanup: string[];
}

export interface Check {
  name: string;
  run(ctx: Context): Promise<string>;
}

async function startImage(ctx: Context, env: Record<string, string>): Promise<Mirror> {
  const options = imageMirror(ctx.spec, ctx.binary, ctx.volume, env);
  ctx.cleanup.push(options.rootDir);
  return await startMirror(options);
}

const url = (port: string, password?: string) => `redis://${password ? `:${password}@` : ""}127.0.0.1:${port}`;

/** The image checks, in order: they share one volume and one running mirror. */
export const IMAGE_CHECKS: Check[] = [
  {
    name: "image: the binary needs only glibc's libraries (libc6, in debian:12-slim)",
    async run(ctx) {
      const out = Bun.spawnSync(["ldd", ctx.binary]).stdout.toString();
      const libs = out.split("\n").map((l) => l.trim().split(/\s+/)[0]).filter(Boolean);
      const glibc = /^(linux-vdso\.so\.1|linux-gate\.so\.1|libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|\/lib(64)?\/ld-linux[-\w.]*\.so\.\d)$/;
      const other = libs.filter((l) => !glibc.test(l));
      assert(libs.includes("libc.so.6") && other.length === 0, `ldd ${ctx.binary}: ${other.length ? `not glibc: ${other.join(", ")}` : out}`);
      return libs.join(" ");
    },
  },
  {
    name: "image: without EZRA_PASSWORD the public bind is refused (exit 2, names --allow-public)",
    async run(ctx) {
      try {
        const m = await startImage(ctx, {});
        await m.stop("SIGKILL");
      } catch (err) {
        assert(err instanceof MirrorExit, String(err));
        assert(err.exitCode === 2 && err.output.includes("--allow-public"), `exit ${err.exitCode}: ${err.output}`);
        return err.output.trim();
      }
      throw new Error(`started on ${ctx.spec.env.EZRA_HOST} without a password`);
    },
  },
  {
    name: "image: starts as USER, as PID 1, with no capabilities",
    async run(ctx) {
      ctx.mirror = await startImage(ctx, { EZRA_PASSWORD: PASSWORD });
      const status = processStatus(ctx.mirror.pid);
      const pid1 = ctx.mirror.exec(["/bin/sh", "-c", "cat /proc/1/comm; id -u; id -g"]);
      assert(status.Uid.split(/\s+/).every((u) => Number(u) === ctx.spec.uid), `Uid: ${status.Uid}`);
      assert(status.Gid.split(/\s+/).every((g) => Number(g) === ctx.spec.gid), `Gid: ${status.Gid}`);
      assert(/^0+$/.test(status.CapEff), `CapEff: ${status.CapEff}`);
      assert(same(pid1.stdout.trim().split("\n"), ["ezra", String(ctx.spec.uid), String(ctx.spec.gid)]), `inside: ${pid1.stdout}${pid1.stderr}`);
      return ctx.mirror.output().trim();
    },
  },
  {
    name: "image: HEALTHCHECK CMD says healthy (exit 0), and unhealthy (1) with a wrong password",
    async run(ctx) {
      const good = running(ctx).exec(ctx.spec.healthcheck.cmd);
      const bad = running(ctx).exec(ctx.spec.healthcheck.cmd, { EZRA_PASSWORD: "wrong" });
      assert(good.exitCode === 0 && good.stdout.startsWith("healthy"), `healthy? exit ${good.exitCode}: ${good.stdout}${good.stderr}`);
      assert(bad.exitCode === 1 && bad.stdout.includes("WRONGPASS"), `wrong password: exit ${bad.exitCode}: ${bad.stdout}${bad.stderr}`);
      return `${good.stdout.trim()} / ${bad.stdout.trim()}`;
    },
  },
  {
    name: "image: a client on the container's network: PING, XADD, XREADGROUP, XACK",
    async run(ctx) {
      const port = ctx.spec.env.EZRA_PORT;
      const replies = send(running(ctx), url(port, PASSWORD), [
        ["PING"],
        ["XADD", "jobs", "*", "task", "first"],
        ["XREADGROUP", "GROUP", "g", "c", "STREAMS", "jobs", ">"],
      ]);
      assert(replies[0] === "PONG" && typeof replies[1] === "string", `replies: ${JSON.stringify(replies)}`);
      const id = replies[1] as string;
      assert(same(replies[2], { jobs: [[id, ["task", "first", "attempts", "1", "max_attempts", "3"]]] }), `XREADGROUP: ${JSON.stringify(replies[2])}`);
      const [acked, kept, noauth] = [...send(running(ctx), url(port, PASSWORD), [["XACK", "jobs", "g", id], ["XADD", "jobs", "*", "task", "kept"]]), ...send(running(ctx), url(port), [["PING"]])];
      assert(acked === 1 && typeof kept === "string", `XACK/XADD: ${acked} ${kept}`);
      assert(JSON.stringify(noauth).includes("NOAUTH"), `PING without password: ${JSON.stringify(noauth)}`);
      ctx.pushed = kept;
      return `pushed ${id}, acked it; pushed ${kept} for the restart check; no password: NOAUTH`;
    },
  },
  {
    name: "image: the root is read-only (also /tmp) and only the volume is writable",
    async run(ctx) {
      const m = running(ctx);
      const vol = ctx.spec.volume;
      const probe = m.exec(["/bin/sh", "-c", `for p in /probe /tmp/probe /usr/local/bin/probe ${vol}/probe; do if touch $p 2>/dev/null; then echo "$p writable"; rm $p; else echo "$p read-only"; fi; done`]);
      const asRoot = m.exec(["/bin/sh", "-c", "touch /usr/.ezra-probe 2>&1; touch /.ezra-probe 2>&1"], {}, true);
      const expected = ["/probe read-only", "/tmp/probe read-only", "/usr/local/bin/probe read-only", `${vol}/probe writable`];
      assert(same(probe.stdout.trim().split("\n"), expected), `as the user: ${probe.stdout}${probe.stderr}`);
      // Root ignores permissions: only a read-only mount stops it.
      assert((asRoot.stdout.match(/Read-only file system/g) ?? []).length === 2, `as root: ${asRoot.stdout}`);
      if (existsSync("/usr/.ezra-probe")) rmSync("/usr/.ezra-probe");
      const files = Bun.spawnSync(["find", ctx.volume, "-mindepth", "1", "-printf", "%u:%g %m %P\\n"]).stdout.toString().trim();
      const owners = files.split("\n").map((l) => l.split(" ")[0]);
      assert(files.includes(" ezra.db") && owners.every((o) => o === `${ctx.spec.uid}:${ctx.spec.gid}`), `volume files: ${files}`);
      return files.replaceAll("\n", ", ");
    },
  },
  {
    name: "image: `docker exec <container> ezra backup --out <volume>/FILE` works as USER on the read-only root",
    async run(ctx) {
      const out = `${ctx.spec.volume}/backup.db`;
      const r = running(ctx).exec([ctx.spec.binaryPath, "backup", "--out", out]);
      assert(r.exitCode === 0 && r.stdout.includes(`wrote ${out}`), `exit ${r.exitCode}: ${r.stdout}${r.stderr}`);
      assert(statSync(join(ctx.volume, "backup.db")).uid === ctx.spec.uid, "backup.db is not owned by USER");
      return r.stdout.split("\n")[1];
    },
  },
  {
    name: "image: STOPSIGNAL makes PID 1 exit 0 within docker stop's 10 s",
    async run(ctx) {
      const stop = await running(ctx).stop(ctx.spec.stopSignal as NodeJS.Signals, DOCKER_STOP_GRACE_MS);
      assert(!stop.killed && stop.exitCode === 0, `${JSON.stringify(stop)}: ${running(ctx).output()}`);
      return `exit ${stop.exitCode} after ${stop.ms} ms`;
    },
  },
  {
    name: "image: a new container on the same volume still has the unacked task",
    async run(ctx) {
      ctx.mirror = await startImage(ctx, { EZRA_PASSWORD: PASSWORD });
      const [len, entry] = send(ctx.mirror, url(ctx.spec.env.EZRA_PORT, PASSWORD), [["XLEN", "jobs"], ["XREADGROUP", "GROUP", "g", "c", "COUNT", "10", "STREAMS", "jobs", ">"]]);
      const health = ctx.mirror.exec(ctx.spec.healthcheck.cmd);
      const stop = await ctx.mirror.stop(ctx.spec.stopSignal as NodeJS.Signals, DOCKER_STOP_GRACE_MS);
      assert(len === 1 && same(entry, { jobs: [[ctx.pushed, ["task", "kept", "attempts", "1", "max_attempts", "3"]]] }), `after restart: XLEN ${len}, XREADGROUP ${JSON.stringify(entry)}`);
      assert(health.exitCode === 0 && stop.exitCode === 0 && !stop.killed, `health ${health.exitCode}, stop ${JSON.stringify(stop)}`);
      return `XLEN jobs = ${len}, XREADGROUP delivered ${ctx.pushed}; healthy; exit ${stop.exitCode}`;
    },
  },
];

/** The unit's checks: ExecStart as systemd would run it; one fresh state dir. */
export const UNIT_CHECKS: Check[] = [
  {
    name: "unit: ExecStart as systemd runs it: a dynamic uid, only the StateDirectory writable, PrivateTmp, ProcSubset=pid, NoNewPrivileges (with python3-seccomp: also SystemCallFilter and RestrictAddressFamilies)",
    async run(ctx) {
      const state = freshVolume(DYNAMIC_UID, DYNAMIC_UID, parseInt(ctx.unit.Service.StateDirectoryMode?.[0] ?? "0755", 8));
      ctx.cleanup.push(state);
      const options = unitMirror(ctx.unit, ctx.binary, state, ctx.seccomp);
      ctx.cleanup.push(options.rootDir);
      const m = await startMirror(options);
      let stop: Awaited<ReturnType<Mirror["stop"]>>;
      try {
        const status = processStatus(m.pid);
        assert(status.Uid.startsWith(String(DYNAMIC_UID)) && status.NoNewPrivs === "1", `Uid ${status.Uid}, NoNewPrivs ${status.NoNewPrivs}`);
        assert(!ctx.seccomp || status.Seccomp === "2", `Seccomp: ${status.Seccomp} (2 = filter)`);
        const port = options.env.EZRA_PORT;
        const [pong, id, entry] = send(m, url(port), [["PING"], ["XADD", "jobs", "*", "task", "unit"], ["XREADGROUP", "GROUP", "g", "c", "COUNT", "5", "STREAMS", "jobs", ">"]]);
        assert(pong === "PONG" && typeof id === "string", `PING/XADD: ${pong} ${id}`);
        assert(same(entry, { jobs: [[id, ["task", "unit", "attempts", "1", "max_attempts", "3"]]] }), `XREADGROUP: ${JSON.stringify(entry)}`);
        const [acked] = send(m, url(port), [["XACK", "jobs", "g", id as string]]);
        assert(acked === 1, `XACK: ${acked}`);
        const script = `for p in /etc/probe /tmp/probe ${options.data.path}/probe; do touch $p 2>/dev/null && echo "$p writable" || echo "$p read-only"; done; test -e /proc/meminfo && echo "/proc/meminfo visible" || echo "/proc/meminfo hidden"`;
        const probe = m.exec(["/bin/sh", "-c", script]);
        const expected = ["/etc/probe read-only", "/tmp/probe writable", `${options.data.path}/probe writable`, "/proc/meminfo hidden"];
        assert(same(probe.stdout.trim().split("\n"), expected), `writes and /proc: ${probe.stdout}${probe.stderr}`);
        assert(statSync(join(state, "ezra.db")).uid === DYNAMIC_UID, "ezra.db is not owned by the dynamic uid");
      } finally {
        stop = await m.stop("SIGTERM", 30_000);
      }
      assert(stop.exitCode === 0 && !stop.killed, `stop: ${JSON.stringify(stop)}: ${m.output()}`);
      return `served PING/XADD/XREADGROUP/XACK${ctx.seccomp ? " under the syscall filter" : " (no syscall filter: python3-seccomp missing)"}; SIGTERM: exit 0 after ${stop.ms} ms`;
    },
  },
];

export function newContext(binary: string): Context {
  const spec = imageSpec();
  return { binary, seccomp: hasPythonSeccomp(), spec, unit: unitSpec(), volume: freshVolume(spec.uid, spec.gid, spec.volumeMode), cleanup: [] };
}

export function cleanup(ctx: Context): void {
  for (const dir of [ctx.volume, ...ctx.cleanup]) rmSync(dir, { recursive: true, force: true });
}

