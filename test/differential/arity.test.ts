// Wrong-arity error texts for every command and subcommand in ezra's table, generated from the
// table itself: a command added later is checked without anyone writing a case for it.
import { describe, expect, test } from "bun:test";
import { TABLE } from "../../src/commands/table.ts";
import type { CommandSpec } from "../../src/commands/types.ts";
import { render } from "../helpers/resp-client.ts";
import { checkCase, needRedis, noServers, type Protocol, runScript, useServers } from "./harness.ts";

interface ArityProbe {
  path: string; // Redis's name for it: "xadd", "xgroup|create"
  args: string[];
}

const FILLER = "x";

/** One call with too few and, for fixed arities, one with too many arguments. */
function probes(spec: CommandSpec, words: string[]): ArityProbe[] {
  const path = words.map((w) => w.toLowerCase()).join("|");
  const call = (argc: number): ArityProbe => ({ path, args: [...words, ...Array(argc - words.length).fill(FILLER)] });
  if (spec.container) {
    const own = words.length === 1 ? [call(1)] : []; // `XGROUP` alone; a nested container is reached by its parent
    return [...own, ...(spec.subcommands ?? []).flatMap((sub) => probes(sub, [...words, sub.name.toUpperCase()]))];
  }
  const out: ArityProbe[] = [];
  const least = Math.abs(spec.arity);
  // Too few only when it still names this (sub)command; otherwise it is the parent's probe.
  if (least - 1 >= words.length && least - 1 >= 1) out.push(call(least - 1));
  if (spec.arity > 0) out.push(call(spec.arity + 1));
  return out;
}

const ALL = [...TABLE.values()].flatMap((spec) => probes(spec, [spec.name.toUpperCase()]));

const redisKnows = new Map<string, Promise<boolean>>();
function knownToRedis(port: number, path: string): Promise<boolean> {
  let known = redisKnows.get(path);
  if (!known) {
    known = runScript(port, [["COMMAND", "INFO", path]], 2, "").then(([r]) => {
      const ok = r.type === "array" && r.items[0]?.type === "array";
      if (!ok) console.log(`redis-server lacks '${path}': ezra's arity error is checked against Redis's wording only`);
      return ok;
    });
    redisKnows.set(path, known);
  }
  return known;
}

describe("differential: wrong-arity errors of every command in ezra's table", () => {
  test("the table yields probes for every command", () => {
    const paths = new Set(ALL.map((p) => p.path.split("|")[0]));
    expect([...TABLE.keys()].filter((name) => !paths.has(name) && TABLE.get(name)?.arity !== -1)).toEqual([]);
  });
  const haveRedis = needRedis("the arity sweep");
  const ports = haveRedis ? useServers() : noServers;
  for (const probe of ALL) {
    for (const protocol of [2, 3] as Protocol[]) {
      test.skipIf(!haveRedis)(`${probe.args.join(" ")} (RESP${protocol})`, async () => {
        const [reply] = await runScript(ports().ezra, [probe.args], protocol, "");
        const arity = `wrong number of arguments for '${probe.path}' command`;
        // Redis words a refused EXEC as an aborted transaction, whatever the reason.
        expect(render(reply)).toBe(probe.path === "exec" ? `-EXECABORT Transaction discarded because of: ${arity}` : `-ERR ${arity}`);
        // Where redis-server has the command, its reply must match too (ezra-only commands
        // such as XNACK and EZRA are listed in differences.test.ts instead).
        if (await knownToRedis(ports().redis, probe.path)) {
          expect(await checkCase(ports(), { name: probe.path, script: [probe.args] }, protocol)).toEqual([]);
        }
      });
    }
  }
});
