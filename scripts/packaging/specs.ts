// What the mirrors run, read from the Dockerfile and packaging/ezra.service: the image's files,
// user, volume and environment, and the unit's ExecStart under its sandboxing settings.
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MirrorOptions } from "./mirror.ts";
import { type ImageSpec, parseDockerfile, parseUnit, type Unit, unitEnvironment } from "./parse.ts";

export const ROOT = join(import.meta.dir, "..", "..");
/** The first uid of systemd's DynamicUser= range (61184-65519). */
export const DYNAMIC_UID = 61184;
/** The debian image's PATH, which Docker passes on. */
const IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/** <sys/socket.h> numbers of the families a unit may allow. */
const ADDRESS_FAMILIES: Record<string, number> = { AF_UNIX: 1, AF_INET: 2, AF_INET6: 10, AF_NETLINK: 16 };

export const imageSpec = (): ImageSpec => parseDockerfile(readFileSync(join(ROOT, "Dockerfile"), "utf8"));
export const unitSpec = (): Unit => parseUnit(readFileSync(join(ROOT, "packaging", "ezra.service"), "utf8"));
export const dockerArch = (arch = process.arch) => ({ x64: "amd64", arm64: "arm64" })[arch as string] ?? arch;

export function tempDir(prefix: string): string {
  const dir = join(tmpdir(), `${prefix}${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A fresh data dir as the image's RUN line leaves /data: owned by USER, with its mode. */
export function freshVolume(uid: number, gid: number, mode: number): string {
  const dir = tempDir("ezra-volume-");
  chownSync(dir, uid, gid);
  chmodSync(dir, mode);
  return dir;
}

/** `docker run --read-only -v <hostData>:<VOLUME> -e ... image`, as mirror options. */
export function imageMirror(spec: ImageSpec, binary: string, hostData: string, runEnv: Record<string, string>): MirrorOptions {
  return {
    files: [{ dest: spec.binaryPath, hostPath: binary, mode: 0o755 }, ...spec.files.map((f) => ({ dest: f.dest, hostPath: join(ROOT, f.src), mode: f.mode }))],
    uid: spec.uid,
    gid: spec.gid,
    user: "ezra",
    home: spec.home,
    env: { PATH: IMAGE_PATH, HOSTNAME: "ezra-mirror", HOME: spec.home, ...spec.env, ...runEnv },
    argv: spec.entrypoint,
    data: { path: spec.volume, hostPath: hostData },
    privateTmp: false,
    noNewPrivs: false,
    procSubsetPid: false,
    rootDir: tempDir("ezra-root-"),
  };
}

/** Every syscall a SystemCallFilter= list allows, groups expanded with systemd-analyze. */
export function syscallsAllowed(filters: string[]): string[] {
  const expand = (name: string, seen = new Set<string>()): string[] => {
    if (!name.startsWith("@")) return [name];
    if (seen.has(name)) return [];
    seen.add(name);
    const out = Bun.spawnSync(["systemd-analyze", "syscall-filter", name]).stdout.toString();
    const words = out.split("\n").slice(1).map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
    if (words.length === 0) throw new Error(`systemd-analyze syscall-filter ${name}: no syscalls`);
    return words.flatMap((w) => expand(w, seen));
  };
  const [first, ...rest] = filters;
  if (!first || first.startsWith("~")) throw new Error("SystemCallFilter: expected an allow list first");
  const allowed = new Set(first.split(/\s+/).flatMap((n) => expand(n)));
  for (const deny of rest) {
    if (!deny.startsWith("~")) throw new Error(`SystemCallFilter: expected ~ after the allow list: ${deny}`);
    for (const n of deny.slice(1).trim().split(/\s+/).flatMap((x) => expand(x))) allowed.delete(n);
  }
  return [...allowed].sort();
}

/** The unit's ExecStart as systemd would run it (DynamicUser, StateDirectory, PrivateTmp, ...). */
export function unitMirror(unit: Unit, binary: string, hostData: string, seccomp: boolean): MirrorOptions {
  const s = unit.Service;
  const yes = (key: string) => s[key]?.at(-1) === "yes";
  const [exec, ...args] = s.ExecStart[0].split(/\s+/);
  const state = s.StateDirectory?.[0];
  if (!yes("DynamicUser") || !state) throw new Error("unit: expected DynamicUser=yes and a StateDirectory=");
  if (s.EnvironmentFile?.some((f) => !f.startsWith("-"))) throw new Error("unit: an EnvironmentFile= that must exist");
  if (s.SystemCallErrorNumber?.[0] !== "EPERM") throw new Error("unit: the mirror models SystemCallErrorNumber=EPERM only");
  return {
    files: [{ dest: exec, hostPath: binary, mode: 0o755 }],
    uid: DYNAMIC_UID,
    gid: DYNAMIC_UID,
    user: "ezra",
    home: "/",
    env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin", ...unitEnvironment(s.Environment ?? []) },
    argv: [exec, ...args],
    data: { path: `/var/lib/${state}`, hostPath: hostData },
    privateTmp: yes("PrivateTmp"),
    noNewPrivs: yes("NoNewPrivileges"),
    procSubsetPid: s.ProcSubset?.[0] === "pid" && s.ProtectProc?.[0] === "invisible",
    syscallsAllowed: seccomp ? syscallsAllowed(s.SystemCallFilter ?? []) : undefined,
    socketFamilies: s.RestrictAddressFamilies?.[0].split(/\s+/).map((f) => {
      if (!(f in ADDRESS_FAMILIES)) throw new Error(`RestrictAddressFamilies: the mirror does not know ${f}`);
      return ADDRESS_FAMILIES[f];
    }),
    rootDir: tempDir("ezra-root-"),
  };
}

/** Picks dist/<release name> for this machine's architecture, as the Dockerfile would. */
export function releaseBinary(spec: ImageSpec): string | null {
  const file = spec.binaries[dockerArch()];
  return file && existsSync(join(ROOT, file)) ? join(ROOT, file) : null;
}

export function hasPythonSeccomp(): boolean {
  return Bun.spawnSync(["/usr/bin/python3", "-c", "import seccomp"], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
}

