// Builds a PATH that looks like a machine with only Node and npm: a directory of symlinks to
// node, npm, npx and bun, and (optionally) to what every Debian system has (its Essential and
// Priority: required packages, as in a debootstrap minbase or a `debian` container image).
// Nothing else is on it: no redis-server, redis-cli, openssl, python3, ruby, php, systemd.
// Run as a script it adds git too: the build stamps the commit, and a new user's copy of the
// repository is a git clone.
//
// Run it to simulate a fresh machine for the whole suite (see docs/testing.md):
//   PATH=$(node_modules/.bin/bun test/helpers/fresh-machine.ts) EZRA_TEST_SYSTEM_PYTHON=/nonexistent npx bun test
// EZRA_TEST_SYSTEM_PYTHON hides Debian's /usr/bin/python3 (an absolute path: PATH cannot hide it).
import { existsSync, mkdirSync, readdirSync, realpathSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./servers.ts";

/**
 * Executables of Debian's Essential: yes and Priority: required packages, by name (empty where
 * dpkg is missing). Names managed by update-alternatives (awk -> mawk) count: they resolve to one.
 */
export function debianBaseCommands(): Map<string, string> {
  const commands = new Map<string, string>();
  if (Bun.which("dpkg-query") === null) return commands;
  const list = Bun.spawnSync(["dpkg-query", "-W", "-f", "${Package}\t${Essential}\t${Priority}\n"]).stdout.toString();
  const packages = list
    .split("\n")
    .map((line) => line.split("\t"))
    .filter(([name, essential, priority]) => name && (essential === "yes" || priority === "required"))
    .map(([name]) => name);
  const owned = new Set<string>();
  for (const file of Bun.spawnSync(["dpkg", "-L", ...packages]).stdout.toString().split("\n")) {
    if (/^(\/usr)?\/s?bin\/[^/]+$/.test(file) && existsSync(file)) owned.add(realpathSync(file));
  }
  for (const dir of ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      const file = join(dir, name);
      if (!commands.has(name) && existsSync(file) && owned.has(realpathSync(file))) commands.set(name, file);
    }
  }
  return commands;
}

/**
 * Makes the directory (a new temp dir unless `dir` is given) and returns it, to be the whole PATH.
 * node, npm, npx (and `also`) come from the current PATH; bun is the one running this (npm installs it).
 */
export function freshMachinePath(options: { debianBase?: boolean; also?: string[]; dir?: string } = {}): string {
  const dir = options.dir ?? tempDir("ezra-fresh-path-");
  mkdirSync(dir, { recursive: true });
  const links = new Map<string, string>();
  if (options.debianBase) for (const [name, file] of debianBaseCommands()) links.set(name, file);
  for (const name of ["node", "npm", "npx", ...(options.also ?? [])]) {
    const found = Bun.which(name);
    if (found === null) throw new Error(`${name} is not on PATH: the fresh-machine PATH needs it`);
    links.set(name, found);
  }
  links.set("bun", process.execPath);
  for (const [name, target] of links) {
    const link = join(dir, name);
    if (!existsSync(link)) symlinkSync(target, link);
  }
  return dir;
}

if (import.meta.main) console.log(freshMachinePath({ debianBase: true, also: ["git"] }));
