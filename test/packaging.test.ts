// The Dockerfile, .dockerignore, packaging/healthcheck.sh and packaging/ezra.service: they agree
// with each other and with the release names; the healthcheck against a real server; the unit
// through systemd-analyze; and both run without Docker or systemd by scripts/container-check.ts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { artifactName } from "../build.ts";
import { type Context, cleanup, IMAGE_CHECKS, newContext, UNIT_CHECKS } from "../scripts/packaging/checks.ts";
import { imageSpec, unitSpec } from "../scripts/packaging/specs.ts";
import { BUN, removeDir, ROOT, startEzra, tempDir } from "./helpers/servers.ts";
import { requireTool, TOOLS } from "./helpers/tools.ts";

const spec = imageSpec();
const unit = unitSpec();
const UNIT_BINARY = "/usr/local/bin/ezra";

/** Docker's .dockerignore: last matching pattern wins; a pattern matching a parent dir matches. */
function dockerIgnored(patterns: string[], path: string): boolean {
  const regex = (p: string) =>
    new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, "\\$&").replaceAll("**", "\0").replaceAll("*", "[^/]*").replaceAll("?", "[^/]").replaceAll("\0", ".*")}$`);
  const parts = path.split("/");
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
  let ignored = false;
  for (const line of patterns) {
    const negated = line.startsWith("!");
    const re = regex(line.replace(/^!/, "").replace(/^\/|\/$/g, ""));
    if (prefixes.some((p) => re.test(p))) ignored = !negated;
  }
  return ignored;
}

describe("the Dockerfile, .dockerignore and the unit agree", () => {
  test("the image takes its binary from the files `npm run release` writes, per TARGETARCH", () => {
    expect(spec.binaries).toEqual({ amd64: `dist/${artifactName("linux-x64")}`, arm64: `dist/${artifactName("linux-arm64")}` });
    expect(spec.base).toBe("debian:12-slim");
  });

  test("ENTRYPOINT runs the copied binary; VOLUME is EZRA_DATA_DIR; EXPOSE is EZRA_PORT", () => {
    expect(spec.entrypoint).toEqual([spec.binaryPath]);
    expect(spec.env.EZRA_DATA_DIR).toBe(spec.volume);
    expect(Number(spec.env.EZRA_PORT)).toBe(spec.port);
    // A published port needs the wildcard address, which needs a password (or --allow-public) at run time.
    expect(spec.env.EZRA_HOST).toBe("0.0.0.0");
    expect(spec.env.EZRA_PASSWORD).toBeUndefined();
    expect(spec.env.EZRA_ALLOW_PUBLIC).toBeUndefined();
    expect(spec.stopSignal).toBe("SIGTERM");
  });

  test("USER is not root, and the RUN line makes that uid/gid and gives it the volume", () => {
    expect(spec.uid).not.toBe(0);
    const run = spec.runs.join(" ");
    expect(run).toContain(`--uid ${spec.uid}`);
    expect(run).toContain(`--gid ${spec.gid}`);
    expect(run).toContain(`chown ${spec.uid}:${spec.gid} ${spec.volume}`);
  });

  test("HEALTHCHECK runs packaging/healthcheck.sh as copied into the image, within its timeout", () => {
    const copied = spec.files.find((f) => f.dest === spec.healthcheck.cmd[0]);
    expect(copied).toEqual({ dest: "/usr/local/bin/ezra-healthcheck", src: "packaging/healthcheck.sh", mode: 0o755 });
    expect(spec.healthcheck.cmd).toHaveLength(1);
    // The script waits at most 1 s per reply (AUTH, PING): 2 s, inside --timeout.
    expect(spec.healthcheck.timeoutS).toBeGreaterThan(2);
    expect(statSync(join(ROOT, "packaging", "healthcheck.sh")).mode & 0o111).toBe(0o111);
    const syntax = Bun.spawnSync(["bash", "-n", join(ROOT, "packaging", "healthcheck.sh")]);
    expect(syntax.stderr.toString()).toBe("");
  });

  test(".dockerignore lets every COPY source through and keeps everything else out", () => {
    const patterns = readFileSync(join(ROOT, ".dockerignore"), "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
    for (const src of [...Object.values(spec.binaries), ...spec.files.map((f) => f.src)]) expect(dockerIgnored(patterns, src)).toBe(false);
    for (const other of ["node_modules/bun/package.json", "src/main.ts", "data/ezra.db", "dist/SHA256SUMS", "dist/ezra-darwin-arm64", ".git/HEAD"]) {
      expect(dockerIgnored(patterns, other)).toBe(true);
    }
  });

  test("the unit runs the binary from the same path, keeps its data in its StateDirectory, restarts but not on exit 2", () => {
    const s = unit.Service;
    expect(s.ExecStart).toEqual([UNIT_BINARY]);
    expect(spec.binaryPath).toBe(UNIT_BINARY);
    expect(s.Environment).toContain(`EZRA_DATA_DIR=/var/lib/${s.StateDirectory[0]}`);
    expect(s.Environment).toContain("EZRA_HOST=127.0.0.1");
    expect(s.Restart).toEqual(["on-failure"]);
    // Exit 2 is a usage error (a bad flag or setting): restarting cannot fix it.
    expect(s.RestartPreventExitStatus).toEqual(["2"]);
    expect(s.DynamicUser).toEqual(["yes"]);
  });
});

describe("packaging/healthcheck.sh against a running ezra", () => {
  const script = join(ROOT, "packaging", "healthcheck.sh");
  const probe = (env: Record<string, string>) => {
    const r = Bun.spawnSync(["bash", script], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, timeout: 10_000 });
    return { code: r.exitCode, out: r.stdout.toString().trim() };
  };

  test("no password: healthy on PONG; nothing listening: unhealthy, naming the address", async () => {
    const ezra = await startEzra();
    try {
      expect(probe({ EZRA_PORT: String(ezra.port) })).toEqual({ code: 0, out: `healthy: PONG from 127.0.0.1:${ezra.port}` });
      expect(probe({ EZRA_PORT: String(ezra.port), EZRA_HOST: "0.0.0.0" }).code).toBe(0);
    } finally {
      expect(await ezra.stop()).toBe(0);
      removeDir(ezra.dataDir);
    }
    expect(probe({ EZRA_PORT: String(ezra.port) })).toEqual({ code: 1, out: `unhealthy: nothing accepts connections on 127.0.0.1:${ezra.port}` });
  });

  test("with a password: AUTH then PING; a wrong or missing password is unhealthy", async () => {
    const password = "pa ss\"wörd$";
    const ezra = await startEzra({ env: { EZRA_PASSWORD: password } });
    try {
      const port = String(ezra.port);
      expect(probe({ EZRA_PORT: port, EZRA_PASSWORD: password }).code).toBe(0);
      expect(probe({ EZRA_PORT: port, EZRA_PASSWORD: "wrong" })).toEqual({
        code: 1,
        out: "unhealthy: AUTH answered -WRONGPASS invalid username-password pair or user is disabled.",
      });
      expect(probe({ EZRA_PORT: port })).toEqual({ code: 1, out: "unhealthy: PING answered -NOAUTH Authentication required." });
      // With TLS on, bash cannot send PING: an accepted connection is all it checks.
      expect(probe({ EZRA_PORT: port, EZRA_TLS_CERT: "/any.pem" })).toEqual({ code: 0, out: `healthy: 127.0.0.1:${port} accepts connections (TLS: PING not sent)` });
    } finally {
      expect(await ezra.stop()).toBe(0);
      removeDir(ezra.dataDir);
    }
  });
});

const haveAnalyze = requireTool(TOOLS.systemdAnalyze, "systemd unit checks (test/packaging.test.ts)");
const haveNamespaces = requireTool(TOOLS.namespaces, "container and unit mirrors (test/packaging.test.ts)");

/** Compiling embeds the whole Bun runtime: slow on a shared 2-core machine. */
const BUILD_MS = 180_000;
const buildDir = tempDir("ezra-packaging-");
const binary = join(buildDir, "ezra");
let ctx: Context | undefined;
afterAll(() => {
  if (ctx) cleanup(ctx);
  removeDir(buildDir);
});

// Only the blocks below need the binary: a failing build fails them, not the checks above.
describe.skipIf(!haveAnalyze && !haveNamespaces)("with a freshly built binary", () => {
  beforeAll(async () => {
    const build = Bun.spawn([BUN, "build.ts", "--outfile", binary], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = [await new Response(build.stdout).text(), await new Response(build.stderr).text(), await build.exited];
    if (code !== 0) throw new Error(`bun build.ts exited ${code}:\n${out}${err}`);
  }, BUILD_MS);

  describe.skipIf(!haveAnalyze)("systemd-analyze on packaging/ezra.service", () => {
    /** The unit as shipped, with only ExecStart's path pointing at the binary built here. */
    const unitCopy = (edit = (text: string) => text) => {
      const path = join(buildDir, "ezra.service");
      writeFileSync(path, edit(readFileSync(join(ROOT, "packaging", "ezra.service"), "utf8").replaceAll(UNIT_BINARY, binary)));
      return path;
    };
    const analyze = (...args: string[]) => {
      const r = Bun.spawnSync(["systemd-analyze", ...args], { cwd: buildDir });
      return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
    };

    test("verify: exit 0 and not one warning", () => {
      expect(analyze("verify", unitCopy())).toEqual({ code: 0, out: "", err: "" });
    });

    test("verify reports a misspelled setting (so the check above can fail)", () => {
      const broken = unitCopy((t) => t.replace("ProtectSystem=strict", "ProtectSystem=strickt").replace("Restart=on-failure", "Restrat=on-failure"));
      const { err } = analyze("verify", broken);
      expect(err).toContain("Failed to parse protect system value, ignoring: strickt");
      expect(err).toContain("Unknown key 'Restrat' in section [Service], ignoring.");
    });

    test("security --offline: overall exposure at most 1.5 (systemd calls up to 2.0 'OK')", () => {
      const path = unitCopy();
      const { code, out, err } = analyze("security", "--offline=yes", "--no-pager", "--threshold=15", path);
      const level = Number(/Overall exposure level for ezra\.service: ([\d.]+)/.exec(out + err)?.[1]);
      expect({ code, level: level <= 1.5 }, out + err).toEqual({ code: 0, level: true });
      console.log(`systemd-analyze security --offline: exposure ${level}`);
    });
  });

  describe.skipIf(!haveNamespaces)("the image and the unit, run without Docker or systemd (scripts/container-check.ts)", () => {
    beforeAll(() => {
      ctx = newContext(binary);
      // The syscall filter needs Debian's python3-seccomp; the script applies it when present.
      ctx.seccomp = false;
    });

    // In order: they share the volume and the running mirror, as the script runs them.
    for (const check of [...IMAGE_CHECKS, ...UNIT_CHECKS]) {
      test(check.name, async () => {
        try {
          await check.run(ctx!);
        } catch (err) {
          await ctx!.mirror?.stop("SIGKILL").catch(() => {});
          throw err;
        }
      }, 40_000);
    }
  });

});

describe.skipIf(!haveNamespaces)("scripts/container-check.ts can fail", () => {
  test("a binary that does not serve fails the checks: exit 1, each failure named", () => {
    const r = Bun.spawnSync([BUN, "scripts/container-check.ts", "--binary", "/bin/true"], { cwd: ROOT, timeout: 60_000 });
    const out = r.stdout.toString();
    expect(r.exitCode, out + r.stderr.toString()).toBe(1);
    expect(out).toContain("FAIL image: without EZRA_PASSWORD the public bind is refused (exit 2, names --allow-public)\n     exit 0");
    expect(out).toContain("FAIL image: STOPSIGNAL makes PID 1 exit 0 within docker stop's 10 s\n     no running mirror");
    expect(out).not.toContain("all checks passed");
  }, 60_000);
});
