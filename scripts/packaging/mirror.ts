// Runs a binary as a container runtime or systemd would, without either: in new mount, PID and
// network namespaces, chrooted into a read-only root made of the host's /usr (read-only) and
// the given files, as an unprivileged uid, with one writable data dir. Needs root.
import { readFileSync } from "node:fs";
import { dirname } from "node:path";

export interface MirrorOptions {
  /** Files placed into the root, each on a read-only tmpfs over its directory. */
  files: { dest: string; hostPath: string; mode: number }[];
  uid: number;
  gid: number;
  /** The user's name and home, for the root's /etc/passwd. */
  user: string;
  home: string;
  /** The process's whole environment. */
  env: Record<string, string>;
  argv: string[];
  /** The one writable directory (the volume, or systemd's StateDirectory). */
  data: { path: string; hostPath: string };
  /** systemd's PrivateTmp: a writable /tmp of its own; otherwise /tmp is part of the read-only root. */
  privateTmp: boolean;
  noNewPrivs: boolean;
  /** systemd's ProtectProc=invisible + ProcSubset=pid: /proc shows only this process's own entries. */
  procSubsetPid: boolean;
  /** systemd's SystemCallFilter with SystemCallErrorNumber: only these syscalls, the rest fail with EPERM. */
  syscallsAllowed?: string[];
  /** systemd's RestrictAddressFamilies: socket() only for these families (needs syscallsAllowed). */
  socketFamilies?: number[];
  /** An empty host directory that becomes the mount point of the new root. */
  rootDir: string;
}

export interface Mirror {
  /** The binary's pid as the host sees it (it is PID 1 inside). */
  pid: number;
  output(): string;
  /** Runs a command inside, as `docker exec` would: same namespaces and root, the mirror's user and environment. */
  exec(argv: string[], extraEnv?: Record<string, string>, asRoot?: boolean): { exitCode: number; stdout: string; stderr: string };
  /** Runs a command that shares only the mirror's network: a client next to the container. */
  client(argv: string[], env?: Record<string, string>): { exitCode: number; stdout: string; stderr: string };
  /** Sends `signal` to the binary and waits up to graceMs (then SIGKILL, as `docker stop` does). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<{ exitCode: number | null; signal: string | null; ms: number; killed: boolean }>;
  exited: Promise<number>;
}

const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
// argv: allowed syscalls (comma-separated), socket families ("" = any), then the command.
const PYTHON_SECCOMP = [
  "import errno, os, seccomp, sys",
  "f = seccomp.SyscallFilter(seccomp.ERRNO(errno.EPERM))",
  "families = [int(x) for x in sys.argv[2].split(',') if x]",
  "for name in sys.argv[1].split(','):",
  "    try:",
  "        if name == 'socket' and families:",
  "            for fam in families: f.add_rule(seccomp.ALLOW, name, seccomp.Arg(0, seccomp.EQ, fam))",
  "        else: f.add_rule(seccomp.ALLOW, name)",
  "    except Exception: pass  # not a syscall of this architecture; systemd skips those too",
  "f.load()",
  "os.execv(sys.argv[3], sys.argv[3:])",
].join("\n");

// Brings the new network namespace's loopback up (ip link set lo up, without needing iproute2):
// SIOCGIFFLAGS, add IFF_UP, SIOCSIFFLAGS on a struct ifreq (name[16], flags at offset 16).
const LO_UP = [
  'const { dlopen } = require("bun:ffi");',
  'const libc = dlopen("libc.so.6", { socket: { args: ["i32", "i32", "i32"], returns: "i32" }, ioctl: { args: ["i32", "u64", "ptr"], returns: "i32" } });',
  "const ifr = new Uint8Array(40);",
  'ifr.set(new TextEncoder().encode("lo"));',
  "const fd = libc.symbols.socket(2, 2, 0);",
  "if (fd < 0 || libc.symbols.ioctl(fd, 0x8913, ifr) !== 0) process.exit(1);",
  "const view = new DataView(ifr.buffer);",
  "view.setUint16(16, view.getUint16(16, true) | 1, true);",
  "process.exit(libc.symbols.ioctl(fd, 0x8914, ifr) === 0 ? 0 : 1);",
].join("\n");

/** The shell script the new namespaces run: builds the root, then execs the binary as PID 1. */
export function setupScript(o: MirrorOptions): string {
  const R = q(o.rootDir);
  const lines = [
    "set -eu",
    `mount -t tmpfs -o mode=0755 ezra-root ${R}`,
    `mkdir -p ${R}/usr ${R}/proc ${R}/dev ${R}/etc ${R}/tmp`,
    `chmod 1777 ${R}/tmp`,
    // Debian 12 links /bin, /lib, ... into /usr; a host that does not gets read-only binds.
    `for d in bin sbin lib lib32 lib64 libx32; do if [ -L /$d ]; then ln -s "$(readlink /$d)" ${R}/$d; elif [ -d /$d ]; then mkdir ${R}/$d; mount --bind /$d ${R}/$d; mount -o remount,bind,ro ${R}/$d; fi; done`,
    `mount --bind /usr ${R}/usr`,
  ];
  const byDir = Map.groupBy(o.files, (f) => dirname(f.dest));
  for (const [dir, files] of byDir) {
    const target = `${R}${q(dir)}`;
    lines.push(dir.startsWith("/usr/") ? `test -d ${target}` : `mkdir -p ${target}`);
    lines.push(`mount -t tmpfs -o mode=0755 ezra-files ${target}`);
    for (const f of files) lines.push(`cp ${q(f.hostPath)} ${R}${q(f.dest)}`, `chmod ${f.mode.toString(8)} ${R}${q(f.dest)}`);
    lines.push(`mount -o remount,bind,ro ${target}`);
  }
  lines.push(`mount -o remount,bind,ro ${R}/usr`);
  const passwd = `root:x:0:0:root:/root:/bin/sh\n${o.user}:x:${o.uid}:${o.gid}::${o.home}:/usr/sbin/nologin\n`;
  lines.push(
    `printf %s ${q(passwd)} > ${R}/etc/passwd`,
    `printf %s ${q(`root:x:0:\n${o.user}:x:${o.gid}:\n`)} > ${R}/etc/group`,
    `printf %s ${q("127.0.0.1\tlocalhost\n::1\tlocalhost\n")} > ${R}/etc/hosts`,
    // A container's /dev: a tmpfs with the harmless devices only.
    `mount -t tmpfs -o mode=0755 ezra-dev ${R}/dev`,
    `for d in null zero full random urandom; do touch ${R}/dev/$d; mount --bind /dev/$d ${R}/dev/$d; done`,
    `mount -t proc ${o.procSubsetPid ? "-o subset=pid,hidepid=invisible " : ""}proc ${R}/proc`,
    `mkdir -p ${R}${q(o.data.path)}`,
    `mount --bind ${q(o.data.hostPath)} ${R}${q(o.data.path)}`,
  );
  if (o.privateTmp) lines.push(`mount -t tmpfs -o mode=1777 ezra-tmp ${R}/tmp`);
  lines.push(`mount -o remount,ro ${R}`, `${q(process.execPath)} -e ${q(LO_UP)}`);
  const env = Object.entries(o.env).map(([k, v]) => q(`${k}=${v}`));
  const setpriv = ["/usr/bin/setpriv", `--reuid=${o.uid}`, `--regid=${o.gid}`, "--clear-groups", ...(o.noNewPrivs ? ["--no-new-privs"] : [])];
  const seccomp = o.syscallsAllowed
    ? ["/usr/bin/python3", "-c", q(PYTHON_SECCOMP), q(o.syscallsAllowed.join(",")), q((o.socketFamilies ?? []).join(","))]
    : [];
  lines.push(`exec chroot ${R} /usr/bin/env -i ${env.join(" ")} ${setpriv.join(" ")} ${seccomp.join(" ")} ${o.argv.map(q).join(" ")}`);
  return lines.join("\n");
}

function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Starts the mirror and waits until the binary prints `ready` (or exits, which rejects). */
export async function startMirror(o: MirrorOptions, ready = /listening on /, timeoutMs = 15_000): Promise<Mirror> {
  const proc = Bun.spawn(["unshare", "--mount", "--pid", "--net", "--fork", "--propagation", "private", "sh", "-c", setupScript(o)], {
    stdout: "pipe",
    stderr: "pipe",
  });
  let text = "";
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) text += decoder.decode(chunk);
  };
  const done = Promise.all([collect(proc.stdout), collect(proc.stderr)]);
  const exited = proc.exited.then(async (code) => (await done, code));
  const deadline = Date.now() + timeoutMs;
  while (!ready.test(text)) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new MirrorExit(await exited, text);
    if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`not ready within ${timeoutMs} ms: ${text}`);
    }
    await Bun.sleep(10);
  }
  const pid = children(proc.pid)[0];
  if (!pid) throw new Error(`no child of unshare ${proc.pid}`);
  const envArgs = (extra: Record<string, string> = {}) => Object.entries({ ...o.env, ...extra }).map(([k, v]) => `${k}=${v}`);
  const run = (argv: string[]) => {
    const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe", timeout: 20_000 });
    return { exitCode: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  };
  return {
    pid,
    output: () => text,
    exited,
    exec(argv, extraEnv, asRoot = false) {
      const user = asRoot ? [] : ["/usr/bin/setpriv", `--reuid=${o.uid}`, `--regid=${o.gid}`, "--clear-groups"];
      return run(["nsenter", `--target=${pid}`, "--mount", "--pid", "--net", "--root", "--wd", "/usr/bin/env", "-i", ...envArgs(extraEnv), ...user, ...argv]);
    },
    client(argv, env = {}) {
      return run(["nsenter", `--target=${pid}`, "--net", "/usr/bin/env", ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv]);
    },
    async stop(signal = "SIGTERM", graceMs = 10_000) {
      const start = performance.now();
      process.kill(pid, signal);
      const killed = await Promise.race([exited.then(() => false), Bun.sleep(graceMs).then(() => true)]);
      if (killed) {
        process.kill(pid, "SIGKILL");
        await exited;
      }
      return { exitCode: proc.exitCode, signal: proc.signalCode === null ? null : String(proc.signalCode), ms: Math.round(performance.now() - start), killed };
    },
  };
}

/** The mirror's binary exited before it was ready (the expected outcome of some checks). */
export class MirrorExit extends Error {
  constructor(
    readonly exitCode: number,
    readonly output: string,
  ) {
    super(`exited ${exitCode} before ready: ${output}`);
  }
}
