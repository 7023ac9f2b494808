// Wires a resolved config into a running server: checks the data dir, opens the engine
// (restart recovery happens here, before listening), listens, and shuts down on signals.
import { SQLiteError } from "bun:sqlite";
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { ConfigError, type ServerConfig } from "./config.ts";
import { Engine } from "./queue/engine.ts";
import { Server } from "./server/server.ts";
import { StoreError } from "./store/store.ts";

export interface Running {
  engine: Engine;
  server: Server;
  port: number;
  stop(): void;
}

function readPem(path: string, flag: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`--${flag}: cannot read ${path}: ${(err as Error).message}`);
  }
}

// Bun.listen reports bad TLS files as a listen failure; check them first so the error names the flag.
function checkTlsFiles(tls: { cert: string; key: string; ca?: string }, config: ServerConfig): void {
  const parse = <T>(flag: string, path: string | null, what: string, make: () => T): T => {
    try {
      return make();
    } catch (err) {
      throw new ConfigError(`--${flag}: ${path} is not ${what}: ${(err as Error).message}`);
    }
  };
  const cert = parse("tls-cert", config.tlsCert, "a PEM certificate", () => new X509Certificate(tls.cert));
  const key: KeyObject = parse("tls-key", config.tlsKey, "a PEM private key", () => createPrivateKey(tls.key));
  if (!cert.checkPrivateKey(key)) throw new ConfigError(`--tls-key: ${config.tlsKey} is not the key of the certificate in ${config.tlsCert}`);
  if (tls.ca !== undefined) parse("tls-ca", config.tlsCa, "a PEM CA certificate", () => new X509Certificate(tls.ca!));
}

/** Opens the engine and listener; throws ConfigError/StoreError rather than exiting. */
export function openServer(config: ServerConfig, version: string, log = (m: string) => console.error(m)): Running {
  const dataDir = resolve(config.dataDir);
  if (!existsSync(dataDir)) {
    if (!config.createDataDir) throw new ConfigError(`--data-dir: ${dataDir} does not exist (create it, or pass --create-data-dir)`);
    mkdirSync(dataDir, { recursive: true });
  } else if (!statSync(dataDir).isDirectory()) {
    throw new ConfigError(`--data-dir: ${dataDir} is not a directory`);
  }
  const tls = config.tlsCert && config.tlsKey
    ? {
        cert: readPem(config.tlsCert, "tls-cert"),
        key: readPem(config.tlsKey, "tls-key"),
        ...(config.tlsCa ? { ca: readPem(config.tlsCa, "tls-ca"), requestCert: true, rejectUnauthorized: true } : {}),
      }
    : undefined;
  if (tls) checkTlsFiles(tls, config);
  const engine = new Engine({
    dataDir,
    durability: config.durability,
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
    throw new ConfigError(`--port: cannot listen on ${config.host}:${config.port}: ${(err as Error).message}`);
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

/** The CLI's server: prints one startup line, exits 0 on SIGTERM/SIGINT after a clean stop. */
export async function startServer(config: ServerConfig, version: string): Promise<void> {
  let running: Running;
  try {
    running = openServer(config, version);
  } catch (err) {
    if (err instanceof StoreError) {
      process.stderr.write(`ezra: ${err.message}\n`);
      process.exit(1);
    }
    if (err instanceof SQLiteError) {
      // Start-up recovery hit the file itself (damaged pages, disk full, I/O error): one line, no stack.
      const hint = err.code === "SQLITE_CORRUPT" ? "; restore it from a backup (ezra backup)" : "";
      process.stderr.write(`ezra: cannot open ${resolve(config.dataDir, "ezra.db")}: ${err.message} (${err.code})${hint}\n`);
      process.exit(1);
    }
    throw err;
  }
  const scheme = config.tlsCert ? "rediss" : "redis";
  process.stdout.write(
    `ezra ${version} listening on ${scheme}://${config.host}:${running.port} (data: ${running.engine.store.path}, durability ${config.durability})\n`,
  );
  const shutdown = (signal: string) => {
    process.stderr.write(`ezra: ${signal}, shutting down\n`);
    running.stop();
    process.exit(0);
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}
