// Reads the Dockerfile and packaging/ezra.service into the facts the mirrors run with (paths,
// user, volume, environment, healthcheck), so the mirror cannot drift from what ships.
// Only the instructions ezra's files use are understood; anything unexpected throws.

export interface CopyStep {
  from: string | null;
  chmod: number | null;
  src: string;
  dest: string;
}

interface Stage {
  name: string | null;
  from: string;
  lines: { op: string; rest: string }[];
}

/** What the final image is, as the mirror needs it. */
export interface ImageSpec {
  base: string;
  /** TARGETARCH -> the release file the image takes its binary from (dist/ezra-linux-x64, ...). */
  binaries: Record<string, string>;
  /** Where the binary lands in the image. */
  binaryPath: string;
  /** Other files copied from the build context: image path -> repository path and mode. */
  files: { dest: string; src: string; mode: number }[];
  env: Record<string, string>;
  uid: number;
  gid: number;
  home: string;
  volume: string;
  volumeMode: number;
  port: number;
  stopSignal: string;
  healthcheck: { cmd: string[]; intervalS: number; timeoutS: number; startPeriodS: number; retries: number };
  entrypoint: string[];
  runs: string[];
}

/** Instructions with their continuation lines joined and comments dropped. */
function logicalLines(text: string): { op: string; rest: string }[] {
  const out: { op: string; rest: string }[] = [];
  let current = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("#") || (line === "" && current === "")) continue;
    if (line.endsWith("\\")) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    current += line;
    const m = /^(\S+)\s*(.*)$/.exec(current.trim());
    if (m) out.push({ op: m[1].toUpperCase(), rest: m[2] });
    current = "";
  }
  return out;
}

/** `--name=value` options at the start of an instruction, and what follows them. */
function options(rest: string): { opts: Record<string, string>; body: string } {
  const opts: Record<string, string> = {};
  let body = rest;
  for (let m = /^--([\w-]+)=(\S+)\s+/.exec(body); m; m = /^--([\w-]+)=(\S+)\s+/.exec(body)) {
    opts[m[1]] = m[2];
    body = body.slice(m[0].length);
  }
  return { opts, body };
}

function execForm(body: string, what: string): string[] {
  const value: unknown = JSON.parse(body);
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) throw new Error(`${what}: not exec form: ${body}`);
  return value;
}

const seconds = (value: string | undefined, fallback: number) => (value === undefined ? fallback : Number(/^(\d+)s$/.exec(value)?.[1] ?? NaN));

function stages(text: string): Stage[] {
  const result: Stage[] = [];
  for (const line of logicalLines(text)) {
    if (line.op === "FROM") {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(line.rest);
      if (!m) throw new Error(`FROM: cannot read '${line.rest}'`);
      result.push({ from: m[1], name: m[2] ?? null, lines: [] });
    } else if (result.length > 0) {
      result.at(-1)!.lines.push(line);
    } else if (line.op !== "ARG") {
      throw new Error(`${line.op} before the first FROM`);
    }
  }
  return result;
}

function copies(stage: Stage): CopyStep[] {
  return stage.lines.filter((l) => l.op === "COPY").map((l) => {
    const { opts, body } = options(l.rest);
    const parts = body.split(/\s+/);
    if (parts.length !== 2) throw new Error(`COPY: expected one source and one destination: ${l.rest}`);
    return { from: opts.from ?? null, chmod: opts.chmod ? parseInt(opts.chmod, 8) : null, src: parts[0], dest: parts[1] };
  });
}

export function parseDockerfile(text: string): ImageSpec {
  const all = stages(text);
  const final = all.at(-1)!;
  const binaries: Record<string, string> = {};
  for (const stage of all) {
    const arch = /^binary-(\w+)$/.exec(stage.name ?? "")?.[1];
    if (!arch) continue;
    const [copy] = copies(stage);
    if (stage.from !== "scratch" || !copy || copy.dest !== "/ezra") throw new Error(`stage ${stage.name}: expected FROM scratch and COPY <release file> /ezra`);
    binaries[arch] = copy.src;
  }
  const selector = all.find((s) => s.name === "binary");
  if (selector?.from !== "binary-${TARGETARCH}") throw new Error("expected a stage 'FROM binary-${TARGETARCH} AS binary'");

  const one = (op: string) => {
    const found = final.lines.filter((l) => l.op === op);
    if (found.length !== 1) throw new Error(`final stage: expected one ${op}, found ${found.length}`);
    return found[0].rest;
  };
  const env: Record<string, string> = {};
  for (const l of final.lines.filter((x) => x.op === "ENV")) {
    for (const pair of l.rest.split(/\s+/)) {
      const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/i.exec(pair);
      if (!m) throw new Error(`ENV: expected NAME=value pairs: ${l.rest}`);
      env[m[1]] = m[2];
    }
  }
  const [uid, gid] = one("USER").split(":").map(Number);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error("USER: expected numeric uid:gid");
  const runs = final.lines.filter((l) => l.op === "RUN").map((l) => l.rest);
  const volume = one("VOLUME");
  const home = /--home-dir\s+(\S+)/.exec(runs.join(" "))?.[1];
  if (!home) throw new Error("RUN: expected useradd --home-dir");
  const volumeMode = /chmod\s+([0-7]{3,4})\s+(\S+)/.exec(runs.join(" "));
  if (!volumeMode || volumeMode[2] !== volume) throw new Error(`RUN: expected chmod MODE ${volume}`);
  const hc = options(one("HEALTHCHECK"));
  if (!hc.body.startsWith("CMD ")) throw new Error("HEALTHCHECK: expected CMD");

  const fileSteps = copies(final);
  const fromBinary = fileSteps.filter((c) => c.from === "binary");
  if (fromBinary.length !== 1 || fromBinary[0].src !== "/ezra") throw new Error("expected one COPY --from=binary /ezra <path>");
  const files = fileSteps.filter((c) => c.from === null).map((c) => ({ dest: c.dest, src: c.src, mode: c.chmod ?? 0o644 }));
  if (fileSteps.some((c) => c.from !== null && c.from !== "binary")) throw new Error("COPY --from another stage than 'binary'");

  return {
    base: final.from,
    binaries,
    binaryPath: fromBinary[0].dest,
    files,
    env,
    uid,
    gid,
    home,
    volume,
    volumeMode: parseInt(volumeMode[1], 8),
    port: Number(one("EXPOSE")),
    stopSignal: one("STOPSIGNAL"),
    healthcheck: {
      cmd: execForm(hc.body.slice(4), "HEALTHCHECK CMD"),
      intervalS: seconds(hc.opts.interval, 30),
      timeoutS: seconds(hc.opts.timeout, 30),
      startPeriodS: seconds(hc.opts["start-period"], 0),
      retries: Number(hc.opts.retries ?? 3),
    },
    entrypoint: execForm(one("ENTRYPOINT"), "ENTRYPOINT"),
    runs,
  };
}

/** A systemd unit as section -> key -> every value given (later lines add, as systemd reads them). */
export type Unit = Record<string, Record<string, string[]>>;

export function parseUnit(text: string): Unit {
  const unit: Unit = {};
  let section: Record<string, string[]> | null = null;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = unit[header[1]] ??= {};
      continue;
    }
    const m = /^([A-Za-z0-9]+)=(.*)$/.exec(line);
    if (!m || !section) throw new Error(`unit: cannot read '${line}'`);
    (section[m[1]] ??= []).push(m[2]);
  }
  return unit;
}

/** Environment= values: space-separated NAME=value words, each optionally in double quotes. */
export function unitEnvironment(values: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const value of values) {
    for (const word of value.match(/"[^"]*"|\S+/g) ?? []) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(word.replace(/^"(.*)"$/, "$1"));
      if (!m) throw new Error(`Environment: cannot read '${word}'`);
      env[m[1]] = m[2];
    }
  }
  return env;
}
