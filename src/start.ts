// Wires a resolved config into a running server: checks the data dir, opens the engine
// (restart recovery happens here, before listening), listens, says where everything is, and
// shuts down on signals. Every failure the user can cause or fix is one line, never a stack.
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { ConfigError, isLoopback, nameOf, type ServerConfig } from "./config.ts";
import { Engine } from "./queue/engine.ts";
import { Server } from "./server/server.ts";
import { StorageError } from "./store/driver.ts";
import { openStorage } from "./store/open.ts";

export interface Running {
  engine: Engine;
  server: Server;
  port: number;
  stop(): void;
}

/** A start-up failure that is not a bad setting (the port is taken, the dir is read-only): exit 1. */
export class StartError extends Error {}

/** "ENOTDIR: not a directory, mkdir '/x'" -> "not a directory (ENOTDIR)": the path is said elsewhere. */
function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const words = /^[A-Z]+: ([^,]+)/.exec(e.message)?.[1];
  return words && e.code ? `${words} (${e.code})` : e.message;
}

function readPem(path: string, name: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`${name}: cannot read ${path}: ${reason(err)}`);
  }
}

/**
 * The data dir must exist (the default one, or --create-data-dir, makes it) and be writable:
 * checked by opening ezra.lock, which the store creates there anyway, so the probe leaves
 * nothing behind and catches what access(2) does not (root on /proc, a read-only mount).
 */
function prepareDataDir(config: ServerConfig): string {
  const dataDir = resolve(config.dataDir);
  const name = config.dataDirIsDefault ? "--data-dir" : nameOf(config, "data-dir");
  const what = config.dataDirIsDefault ? "the default data dir " : "";
  if (!existsSync(dataDir)) {
    if (!config.dataDirIsDefault && !config.createDataDir) {
      throw new ConfigError(`${name}: ${dataDir} does not exist (create it, or pass --create-data-dir)`);
    }
    try {
      // The default dir is per user: keep others out of the queue's contents.
      mkdirSync(dataDir, { recursive: true, mode: config.dataDirIsDefault ? 0o700 : 0o777 });
    } catch (err) {
      throw new ConfigError(`${name}: cannot create ${what}${dataDir}: ${reason(err)}`);
    }
  } else if (!statSync(dataDir).isDirectory()) {
    throw new ConfigError(`${name}: ${dataDir} is not a directory`);
  }
  try {
    closeSync(openSync(join(dataDir, "ezra.lock"), "a"));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const problem = code === "EROFS" ? "is on a read-only file system" : `is not writable (creating ezra.lock there: ${reason(err)})`;
    throw new StartError(`${what}${dataDir} ${problem}: ezra writes ezra.db and its -wal/-shm files there`);
  }
  return dataDir;
}

/** host:port as a client would write it: IPv6 addresses in brackets. */
export const hostPort = (host: string, port: number) => (host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`);

function listenError(err: unknown, config: ServerConfig): Error {
  const at = hostPort(config.host, config.port);
  switch ((err as NodeJS.ErrnoException).code) {
    case "EADDRINUSE":
      return new StartError(`cannot listen on ${at}: address already in use (another program listens there; choose another port with ${nameOf(config, "port")})`);
    case "EADDRNOTAVAIL":
      return new ConfigError(`${nameOf(config, "host")}: cannot listen on ${at}: address not available on this machine`);
    case "EACCES":
      return new StartError(`cannot listen on ${at}: permission denied (ports below 1024 need privileges; choose another with ${nameOf(config, "port")})`);
    default:
      return new StartError(`cannot listen on ${at}: ${(err as Error).message}`);
  }
}

// Bun.listen reports bad TLS files as a listen failure; check them first so the error names the flag.
function checkTlsFiles(tls: { cert: string; key: string; ca?: string }, config: ServerConfig): void {
  const parse = <T>(flag: string, path: string | null, what: string, make: () => T): T => {
    try {
      return make();
    } catch (err) {
      throw new ConfigError(`${nameOf(config, flag)}: ${path} is not ${what}: ${(err as Error).message}`);
    }
  };
  const cert = parse("tls-cert", config.tlsCert, "a PEM certificate", () => new X509Certificate(tls.cert));
  const key: KeyObject = parse("tls-key", config.tlsKey, "a PEM private key", () => createPrivateKey(tls.key));
  if (!cert.checkPrivateKey(key)) throw new ConfigError(`${nameOf(config, "tls-key")}: ${config.tlsKey} is not the key of the certificate in ${config.tlsCert}`);
  if (tls.ca !== undefined) parse("tls-ca", config.tlsCa, "a PEM CA certificate", () => new X509Certificate(tls.ca!));
}

/** Opens the engine and listener; throws ConfigError/StoreError rather than exiting. */
export function openServer(config: ServerConfig, version: string, log = (m: string) => console.error(m)): Running {
  const dataDir = prepareDataDir(config);
  const tls = config.tlsCert && config.tlsKey
    ? {
        cert: readPem(config.tlsCert, nameOf(config, "tls-cert")),
        key: readPem(config.tlsKey, nameOf(config, "tls-key")),
        ...(config.tlsCa ? { ca: readPem(config.tlsCa, nameOf(config, "tls-ca")), requestCert: true, rejectUnauthorized: true } : {}),
      }
    : undefined;
  if (tls) checkTlsFiles(tls, config);
  const engine = new Engine({
    driver: openStorage({ dataDir, durability: config.durability, claimWriteDelayMs: config.claimWriteDelayMs, progress: log }),
    visibilityTimeoutMs: config.visibilityTimeoutMs,
    maxAttempts: config.maxAttempts,
    retentionMs: config.retentionMs,
    blockedClientsMax: config.limits.blockedClientsMax,
  });
  const server = new Server(engine, {
    host: config.host,
    port: config.port,
    password: config.password,
    version,
    durability: config.durability,
    limits: config.limits,
    tls,
    log,
  });
  let port: number;
  try {
    port = server.listen();
  } catch (err) {
    engine.close();
    throw listenError(err, config);
  }
  let stopped = false;
  return {
    engine,
    server,
    port,
    stop() {
      if (stopped) return;
      stopped = true;
      server.stop();
      engine.close();
    },
  };
}

/** The redis-cli line that reaches this server: placeholders in capitals where only the user knows. */
function tryLine(config: ServerConfig, port: number): string {
  const args = ["redis-cli"];
  // redis-cli's default host is 127.0.0.1, which the wildcard addresses serve too.
  if (!["127.0.0.1", "localhost", "0.0.0.0", "::"].includes(config.host)) args.push("-h", config.host);
  args.push("-p", String(port));
  if (config.tlsCert) args.push("--tls", "--cacert", "CA_FILE");
  if (config.tlsCa) args.push("--cert", "CLIENT_CERT", "--key", "CLIENT_KEY");
  if (config.password !== null) args.push("--askpass"); // prompts: the password stays out of shell history
  return [...args, "XADD", "jobs", "'*'", "task", "hello"].join(" ");
}

/** What a user needs after start: where the data is, who can connect, what survives a crash. */
export function startupLines(config: ServerConfig, version: string, port: number, dbPath: string): string[] {
  const scheme = config.tlsCert ? "rediss" : "redis";
  const address = hostPort(config.host, port);
  const reach = isLoopback(config.host) ? "loopback: only this machine can connect" : "reachable from other machines";
  const dataNote = config.dataDirIsDefault ? " (the default data dir; choose another with --data-dir)" : "";
  return [
    // Tests and scripts parse this first line: keep "listening on <scheme>://<host>:<port>".
    `ezra ${version} listening on ${scheme}://${address}`,
    `  data:       ${dbPath}${dataNote}`,
    `  address:    ${address} (${reach}${config.tlsCert ? `; TLS${config.tlsCa ? " with client certificates" : ""}` : ""})`,
    `  auth:       ${config.password !== null ? "on (clients must AUTH with the password)" : "off (no --password: any client that can connect may use it)"}`,
    `  durability: ${
      config.durability === "full"
        ? "full (fsync at every commit: nothing acknowledged is lost, even in a power cut)"
        : "normal (fsync at checkpoints: a power cut may lose the last commits; a crash of ezra alone loses nothing)"
    }`,
    `  try:        ${tryLine(config, port)}`,
  ];
}

/** The CLI's server: says where everything is, exits 0 on SIGTERM/SIGINT after a clean stop. */
export async function startServer(config: ServerConfig, version: string): Promise<void> {
  let running: Running;
  try {
    running = openServer(config, version);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`ezra: ${err.message}\n`);
      process.exit(2);
    }
    if (err instanceof StorageError || err instanceof StartError) {
      // Also start-up recovery hitting the file itself (damaged pages, disk full, I/O error): one line, no stack.
      const hint = err instanceof StorageError && err.code === "CORRUPT" ? "; restore it from a backup (ezra backup)" : "";
      process.stderr.write(`ezra: ${err.message}${hint}\n`);
      process.exit(1);
    }
    throw err;
  }
  const shutdown = (signal: string) => {
    process.stderr.write(`ezra: ${signal}, shutting down\n`);
    running.stop();
    process.exit(0);
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  // Only now: whoever reads the report (a supervisor, a test) may signal at once and must get a clean stop.
  process.stdout.write(`${startupLines(config, version, running.port, running.engine.driver.location).join("\n")}\n`);
}
