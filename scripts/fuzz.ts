#!/usr/bin/env bun
// Seeded fuzzer for the RESP request decoder (random bytes and mutated valid frames), plus a live
// mode that sends the same garbage to a running server over many connections, then checks a
// well-behaved client still works. Each input must decode the same whole and split, in bounded
// time and memory; any other outcome is a finding, printed with the seed and input to replay it.
import { type DecoderLimits, ProtocolError, RequestDecoder } from "../src/resp/decoder.ts";
import { randomSplit } from "../test/resp/prng.ts";
import { generateInput, mulberry32 } from "./fuzz-inputs.ts";
import { fuzzLive } from "./fuzz-live.ts";

/** Small limits so inputs reach every limit branch quickly (the logic is the same at any size). */
export const FUZZ_LIMITS: DecoderLimits = { bulkBytesMax: 1 << 20, argsMax: 1024, inlineBytesMax: 4096 };
const ALLOC_SLACK_BYTES = 16 * 1024 + (1 << 20); // decoder's minimum buffer + its preallocation cap
const RSS_GROWTH_MAX_BYTES = 512 * 1024 * 1024; // the whole run may not grow the process past this

interface Outcome {
  commands: string[];
  error: string | null;
  maxAllocatedBytes: number;
}

// Feeds `chunks` to a fresh decoder, draining after every push. Throws on anything but ProtocolError.
function decode(chunks: Uint8Array[]): Outcome {
  const decoder = new RequestDecoder(FUZZ_LIMITS);
  const commands: string[] = [];
  let maxAllocatedBytes = 0;
  try {
    for (const chunk of chunks) {
      decoder.push(chunk);
      // White-box: the decoder's own buffer is private; its size is what an attacker could inflate.
      maxAllocatedBytes = Math.max(maxAllocatedBytes, (decoder as unknown as { buf: Uint8Array }).buf.length);
      for (let c = decoder.next(); c !== null; c = decoder.next()) {
        commands.push(c.map((a) => Buffer.from(a).toString("latin1")).join("\u0001"));
      }
    }
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    return { commands, error: err.message, maxAllocatedBytes };
  }
  return { commands, error: null, maxAllocatedBytes };
}

export interface DecoderFuzzOptions {
  inputs: number;
  seed: number;
  /** An input taking longer than this is reported as a hang (generous: a hang detector, not a benchmark). */
  inputMsMax?: number;
  progress?: (line: string) => void;
}

export interface DecoderFuzzSummary {
  inputs: number;
  seed: number;
  bytes: number;
  commands: number;
  protocolErrors: number;
  incomplete: number;
  slowestInputMs: number;
  largestAllocationBytes: number;
  rssGrowthBytes: number;
  elapsedMs: number;
  findings: string[];
}

/** Runs `inputs` seeded inputs, each fed whole and in random splits; collects findings instead of stopping. */
export function fuzzDecoder(options: DecoderFuzzOptions): DecoderFuzzSummary {
  const rand = mulberry32(options.seed);
  const inputMsMax = options.inputMsMax ?? 2000;
  const started = performance.now();
  const rssStart = process.memoryUsage.rss();
  const s: DecoderFuzzSummary = {
    inputs: 0, seed: options.seed, bytes: 0, commands: 0, protocolErrors: 0, incomplete: 0,
    slowestInputMs: 0, largestAllocationBytes: 0, rssGrowthBytes: 0, elapsedMs: 0, findings: [],
  };
  const report = (i: number, input: Uint8Array, what: string) => {
    if (s.findings.length < 20) s.findings.push(`input #${i} (seed ${options.seed}): ${what}; bytes ${JSON.stringify(Buffer.from(input.subarray(0, 300)).toString("latin1"))}`);
  };
  const progressEvery = Math.max(1, Math.floor(options.inputs / 10));
  for (let i = 0; i < options.inputs; i++) {
    const input = generateInput(rand);
    s.bytes += input.length;
    const t0 = performance.now();
    let whole: Outcome;
    let split: Outcome;
    try {
      whole = decode([input]);
      split = decode(randomSplit(input, rand, 64));
    } catch (err) {
      report(i, input, `crash: ${(err as Error).stack ?? err}`);
      continue;
    }
    const ms = performance.now() - t0;
    s.slowestInputMs = Math.max(s.slowestInputMs, ms);
    if (ms > inputMsMax) report(i, input, `took ${ms.toFixed(0)} ms (hang?)`);
    const allocated = Math.max(whole.maxAllocatedBytes, split.maxAllocatedBytes);
    s.largestAllocationBytes = Math.max(s.largestAllocationBytes, allocated);
    if (allocated > ALLOC_SLACK_BYTES + 2 * input.length) report(i, input, `decoder allocated ${allocated} bytes for ${input.length} input bytes`);
    if (whole.error !== split.error || whole.commands.join("\n") !== split.commands.join("\n")) {
      report(i, input, `whole and split feeding disagree: ${JSON.stringify(whole)} vs ${JSON.stringify(split)}`);
    }
    s.commands += whole.commands.length;
    if (whole.error) s.protocolErrors++;
    else if (whole.commands.length === 0) s.incomplete++;
    if ((i + 1) % progressEvery === 0) {
      s.rssGrowthBytes = Math.max(s.rssGrowthBytes, process.memoryUsage.rss() - rssStart);
      options.progress?.(`decoder: ${i + 1}/${options.inputs} inputs, ${s.protocolErrors} protocol errors, ${s.commands} commands, rss +${mib(s.rssGrowthBytes)} MiB`);
    }
    s.inputs++;
  }
  s.rssGrowthBytes = Math.max(s.rssGrowthBytes, process.memoryUsage.rss() - rssStart);
  if (s.rssGrowthBytes > RSS_GROWTH_MAX_BYTES) s.findings.push(`process RSS grew by ${mib(s.rssGrowthBytes)} MiB`);
  s.elapsedMs = Math.round(performance.now() - started);
  return s;
}

export const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

if (import.meta.main) {
  const seed = Number(flag("seed", String(Date.now() % 1_000_000)));
  const inputs = Number(flag("inputs", "1000000"));
  const mode = flag("mode", "both");
  if (!Number.isSafeInteger(seed) || !Number.isSafeInteger(inputs) || inputs < 0 || !["decoder", "live", "both"].includes(mode)) {
    console.error("usage: bun scripts/fuzz.ts [--inputs N] [--seed S] [--mode decoder|live|both] [--connections N] [--port P]");
    process.exit(2);
  }
  let ok = true;
  if (mode !== "live") {
    console.log(`decoder fuzz: ${inputs} inputs, seed ${seed}, limits ${JSON.stringify(FUZZ_LIMITS)}`);
    const summary = fuzzDecoder({ inputs, seed, progress: (l) => console.log(l) });
    console.log(JSON.stringify(summary, null, 2));
    ok &&= summary.findings.length === 0;
  }
  if (mode !== "decoder") {
    const port = flag("port", "");
    const live = await fuzzLive({
      seed,
      connections: Number(flag("connections", "10000")),
      port: port ? Number(port) : undefined,
      progress: (l) => console.log(l),
    });
    console.log(JSON.stringify(live, null, 2));
    ok &&= live.findings.length === 0;
  }
  console.log(ok ? "fuzz: no findings" : "fuzz: FINDINGS above");
  process.exit(ok ? 0 : 1);
}
