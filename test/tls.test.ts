// TLS with certificates the test makes with openssl: a server certificate (--tls-cert/--tls-key),
// then required client certificates (--tls-ca). Real clients push, pop and ack over TLS; plaintext
// and certificate-less clients are turned away without disturbing anyone.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Redis from "ioredis";
import { createClient } from "redis";
import { BUN, type EzraProcess, removeDir, ROOT, startEzra, tempDir } from "./helpers/servers.ts";
import { requireTool, TOOLS } from "./helpers/tools.ts";
import { RawConnection, resp } from "./helpers/raw-client.ts";

setDefaultTimeout(30_000);

const HAVE_OPENSSL = requireTool(TOOLS.openssl, "the TLS tests (openssl makes their certificates)");
const HAVE_CLI = requireTool(TOOLS.redisCli, "redis-cli over TLS");

let certs = ""; // directory with ca, server, client (signed by ca) and stranger (signed by another ca)
let tls: EzraProcess;
let mtls: EzraProcess;
const file = (name: string) => join(certs, name);
const pem = (name: string) => readFileSync(file(name));

function openssl(...args: string[]): void {
  const run = Bun.spawnSync(["openssl", ...args], { cwd: certs });
  if (run.exitCode !== 0) throw new Error(`openssl ${args.join(" ")}: ${run.stderr.toString()}`);
}

// A CA, and a certificate signed by it with the given extensions.
function makeCa(name: string): void {
  openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "2", "-subj", `/CN=${name}`);
}
function makeCert(name: string, ca: string, subject: string, extensions: string): void {
  writeFileSync(file(`${name}.ext`), extensions);
  openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject);
  openssl("x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.crt`, "-CAkey", `${ca}.key`, "-CAcreateserial", "-out", `${name}.crt`, "-days", "2", "-extfile", `${name}.ext`);
}

beforeAll(async () => {
  if (!HAVE_OPENSSL) return;
  certs = tempDir("ezra-tls-");
  makeCa("ca");
  makeCa("otherca");
  makeCert("server", "ca", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  makeCert("client", "ca", "/CN=worker", "extendedKeyUsage=clientAuth\n");
  makeCert("stranger", "otherca", "/CN=stranger", "extendedKeyUsage=clientAuth\n");
  const serverFiles = ["--tls-cert", file("server.crt"), "--tls-key", file("server.key")];
  [tls, mtls] = await Promise.all([startEzra({ args: serverFiles }), startEzra({ args: [...serverFiles, "--tls-ca", file("ca.crt")] })]);
});

afterAll(async () => {
  for (const server of [tls, mtls]) {
    if (!server) continue;
    expect(await server.stop()).toBe(0);
    removeDir(server.dataDir);
  }
  if (certs) removeDir(certs);
});

function redisCli(port: number, ...args: string[]) {
  const run = Bun.spawnSync(["redis-cli", "-h", "127.0.0.1", "-p", String(port), "--tls", "--cacert", file("ca.crt"), ...args], { timeout: 10_000 });
  return { code: run.exitCode, out: run.stdout.toString().trim(), err: run.stderr.toString().trim() };
}

const clientCert = () => ({ cert: pem("client.crt"), key: pem("client.key") });

async function nodeRedisRoundTrip(port: number, queue: string, extra: { cert?: Buffer; key?: Buffer } = {}): Promise<void> {
  const client = createClient({ socket: { host: "127.0.0.1", port, tls: true, ca: pem("ca.crt"), servername: "localhost", ...extra } });
  await client.connect();
  const id = await client.xAdd(queue, "*", { job: "over tls" });
  const read = await client.xReadGroup("g", "c", { key: queue, id: ">" });
  expect(read?.[0].messages[0]).toEqual({ id, message: { job: "over tls", attempts: "1", max_attempts: "3" } });
  expect(await client.xAck(queue, "g", id)).toBe(1);
  await client.quit();
}

describe.skipIf(!HAVE_OPENSSL)("--tls-cert and --tls-key", () => {
  test("the startup line says rediss://", () => {
    expect(tls.output()).toContain("listening on rediss://127.0.0.1:");
  });

  test("node-redis pushes, pops and acks over TLS", async () => {
    await nodeRedisRoundTrip(tls.port, "nr-tls");
  });

  test("ioredis over TLS", async () => {
    const client = new Redis({ host: "127.0.0.1", port: tls.port, tls: { ca: pem("ca.crt"), servername: "localhost" }, lazyConnect: true });
    await client.connect();
    expect(await client.xadd("io-tls", "5-1", "job", "x")).toBe("5-1");
    expect(await client.xlen("io-tls")).toBe(1);
    client.disconnect();
  });

  test.skipIf(!HAVE_CLI)("redis-cli --tls --cacert pushes, pops and acks", () => {
    const id = redisCli(tls.port, "XADD", "cli-tls", "*", "job", "cli");
    expect(id.err).toBe("");
    expect(id.out).toMatch(/^\d+-\d+$/);
    const read = redisCli(tls.port, "XREADGROUP", "GROUP", "g", "c", "STREAMS", "cli-tls", ">");
    expect(read.out.split("\n")).toEqual(["cli-tls", id.out, "job", "cli", "attempts", "1", "max_attempts", "3"]);
    expect(redisCli(tls.port, "XACK", "cli-tls", "g", id.out).out).toBe("1");
  });

  test("a plaintext client gets no RESP reply and is closed; TLS clients carry on", async () => {
    const plain = await RawConnection.open(tls.port);
    plain.write(resp("PING"));
    await plain.waitClosed();
    expect(plain.text).not.toContain("PONG");
    const secure = await RawConnection.open(tls.port, { ca: pem("ca.crt").toString(), serverName: "localhost" });
    await secure.ping();
    secure.end();
  });

  test.skipIf(!HAVE_CLI)("redis-cli without --tls fails", () => {
    const run = Bun.spawnSync(["redis-cli", "-h", "127.0.0.1", "-p", String(tls.port), "PING"], { timeout: 10_000 });
    expect(run.exitCode).not.toBe(0);
    expect(run.stdout.toString()).not.toContain("PONG");
  });

  test("bad TLS files are refused at start with exit code 2, naming the flag", () => {
    writeFileSync(file("garbage.pem"), "not a pem\n");
    const cases: [string[], string][] = [
      [["--tls-cert", file("garbage.pem"), "--tls-key", file("server.key")], "--tls-cert:"],
      [["--tls-cert", file("server.crt"), "--tls-key", file("garbage.pem")], "--tls-key:"],
      [["--tls-cert", file("server.crt"), "--tls-key", file("client.key")], "--tls-key:"], // not this certificate's key
      [["--tls-cert", file("server.crt"), "--tls-key", file("server.key"), "--tls-ca", file("garbage.pem")], "--tls-ca:"],
      [["--tls-cert", file("missing.crt"), "--tls-key", file("server.key")], "--tls-cert:"],
      [["--tls-cert", file("server.crt")], "--tls-cert and --tls-key"],
    ];
    for (const [args, message] of cases) {
      const dataDir = tempDir();
      const run = Bun.spawnSync([BUN, join(ROOT, "src", "main.ts"), "--data-dir", dataDir, "--port", "0", ...args], { timeout: 10_000 });
      removeDir(dataDir);
      expect(run.exitCode).toBe(2);
      expect(run.stderr.toString()).toStartWith(`ezra: ${message}`);
    }
  });
});

describe.skipIf(!HAVE_OPENSSL)("--tls-ca: client certificates required", () => {
  test("node-redis with a client certificate pushes, pops and acks", async () => {
    await nodeRedisRoundTrip(mtls.port, "nr-mtls", clientCert());
  });

  test.skipIf(!HAVE_CLI)("redis-cli with --cert/--key works; without a certificate it is rejected", () => {
    const ok = redisCli(mtls.port, "--cert", file("client.crt"), "--key", file("client.key"), "XADD", "cli-mtls", "*", "job", "1");
    expect(ok.out).toMatch(/^\d+-\d+$/);
    const refused = redisCli(mtls.port, "PING");
    expect(refused.code).not.toBe(0);
    expect(refused.out).not.toContain("PONG");
  });

  test("a client without a certificate, or with one from another CA, is rejected; others are unaffected", async () => {
    for (const extra of [{}, { cert: pem("stranger.crt"), key: pem("stranger.key") }]) {
      const client = createClient({ socket: { host: "127.0.0.1", port: mtls.port, tls: true, ca: pem("ca.crt"), servername: "localhost", reconnectStrategy: false, ...extra } });
      client.on("error", () => {});
      await expect(client.connect().then(() => client.ping())).rejects.toThrow();
      client.destroy();
    }
    const witness = await RawConnection.open(mtls.port, { ca: pem("ca.crt").toString(), serverName: "localhost", cert: pem("client.crt").toString(), key: pem("client.key").toString() });
    await witness.ping();
    witness.end();
  });
});
