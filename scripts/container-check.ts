#!/usr/bin/env bun
// Checks the Dockerfile and packaging/ezra.service without Docker or systemd: runs the binary as
// each would run it (scripts/packaging/mirror.ts), with the paths, user, volume, environment and
// healthcheck read from those two files, and checks it serves, writes only its data dir and exits
// 0 on SIGTERM. Usage, as root: npx bun scripts/container-check.ts [--binary PATH]
import { rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cleanup, IMAGE_CHECKS, newContext, UNIT_CHECKS } from "./packaging/checks.ts";
import { dockerArch, imageSpec, releaseBinary, ROOT, tempDir } from "./packaging/specs.ts";

async function main(): Promise<number> {
  const { values } = parseArgs({ args: Bun.argv.slice(2), options: { binary: { type: "string" } } });
  if (process.getuid?.() !== 0) {
    console.error("container-check: run as root (it makes mount, PID and network namespaces, and switches uid)");
    return 2;
  }
  let binary = values.binary ?? releaseBinary(imageSpec());
  const built = binary ? null : tempDir("ezra-build-");
  if (built) {
    binary = join(built, "ezra");
    console.log(`no --binary and no ${imageSpec().binaries[dockerArch()]}: building ${binary}`);
    const b = Bun.spawnSync([process.execPath, "build.ts", "--outfile", binary], { cwd: ROOT, stdout: "inherit", stderr: "inherit" });
    if (b.exitCode !== 0) return 1;
  }
  const ctx = newContext(binary!);
  if (!ctx.seccomp) console.log("python3-seccomp not found (apt-get install -y python3-seccomp): the unit runs without its SystemCallFilter");
  let failed = 0;
  for (const check of [...IMAGE_CHECKS, ...UNIT_CHECKS]) {
    try {
      console.log(`ok   ${check.name}\n     ${(await check.run(ctx)).replaceAll("\n", "\n     ")}`);
    } catch (err) {
      failed++;
      console.log(`FAIL ${check.name}\n     ${(err as Error).message}`);
      await ctx.mirror?.stop("SIGKILL").catch(() => {});
    }
  }
  cleanup(ctx);
  if (built) rmSync(built, { recursive: true, force: true });
  console.log(failed ? `${failed} check(s) failed` : "all checks passed");
  return failed ? 1 : 0;
}

if (import.meta.main) process.exit(await main());
