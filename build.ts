// Compiles ezra into one self-contained executable with `bun build --compile`.
// Usage: bun build.ts [--target bun-linux-x64|bun-linux-arm64|bun-darwin-arm64|...] [--outfile PATH]
// Without --target it builds for this machine as ./ezra; with --all it builds every platform into dist/.
import { parseArgs } from "node:util";

const PLATFORMS = [
  "bun-linux-x64",
  "bun-linux-arm64",
  "bun-darwin-x64",
  "bun-darwin-arm64",
  "bun-windows-x64",
] as const;

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: { target: { type: "string" }, outfile: { type: "string" }, all: { type: "boolean" } },
});

async function build(target: string | undefined, outfile: string): Promise<void> {
  const args = ["build", "--compile", "--minify", "--sourcemap", "src/main.ts", "--outfile", outfile];
  if (target) args.push("--target", target);
  const proc = Bun.spawn([process.execPath, ...args], { stdout: "inherit", stderr: "inherit" });
  if ((await proc.exited) !== 0) throw new Error(`bun build failed for ${target ?? "host"}`);
  console.log(`built ${outfile}${target ? ` (${target})` : ""}`);
}

if (values.all) {
  // Cross-compiling downloads each target's runtime; only the host build works offline.
  for (const target of PLATFORMS) await build(target, `dist/ezra-${target.slice(4)}`);
} else {
  await build(values.target, values.outfile ?? (values.target ? `dist/ezra-${values.target.slice(4)}` : "ezra"));
}
