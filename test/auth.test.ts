// --password: everything but HELLO/AUTH/QUIT is refused with -NOAUTH until the client
// authenticates; wrong passwords get -WRONGPASS; real clients (node-redis, ioredis, redis-cli,
// redis-py) authenticate; a non-loopback --host without a password is refused at start.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import Redis from "ioredis";
import { createClient } from "redis";
import { passwordMatches } from "../src/commands/connection.ts";
import { ConfigError, resolveConfig } from "../src/config.ts";
import { resp, sendRaw } from "./helpers/raw-client.ts";
import { BUN, type EzraProcess, type RedisProcess, removeDir, ROOT, startEzra, startRedis, tempDir } from "./helpers/servers.ts";
import { requireTool, SYSTEM_PYTHON, TOOLS } from "./helpers/tools.ts";

setDefaultTimeout(30_000);

const PASSWORD = "s3cret pass";
const NOAUTH = "-NOAUTH Authentication required.\r\n";
const WRONGPASS = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";

// Request -> exact reply, the same from ezra and from redis-server --requirepass.
const EXCHANGES: [string, string, string][] = [
  ["a data command before AUTH", resp("XADD", "q", "*", "a", "b"), NOAUTH],
  ["PING before AUTH", resp("PING"), NOAUTH],
  ["CLIENT SETNAME before AUTH", resp("CLIENT", "SETNAME", "x"), NOAUTH],
  ["an unknown command is unknown before it is unauthenticated", resp("NOSUCH"), "-ERR unknown command 'NOSUCH', with args beginning with: \r\n"],
  ["a wrong password", resp("AUTH", "nope"), WRONGPASS],
  ["a wrong password for default", resp("AUTH", "default", "nope"), WRONGPASS],
  ["the right password for another user", resp("AUTH", "someone", PASSWORD), WRONGPASS],
  ["HELLO AUTH with a wrong password", resp("HELLO", "2", "AUTH", "default", "nope"), WRONGPASS],
  ["AUTH <pass>", resp("AUTH", PASSWORD) + resp("PING"), "+OK\r\n+PONG\r\n"],
  ["AUTH default <pass>", resp("AUTH", "default", PASSWORD) + resp("XLEN", "none"), "+OK\r\n:0\r\n"],
  ["a failed AUTH after a good one keeps the session", resp("AUTH", PASSWORD) + resp("AUTH", "nope") + resp("PING"), `+OK\r\n${WRONGPASS}+PONG\r\n`],
  ["RESET forgets the authentication", resp("AUTH", PASSWORD) + resp("RESET") + resp("PING"), `+OK\r\n+RESET\r\n${NOAUTH}`],
  ["AUTH arity", resp("AUTH"), "-ERR wrong number of arguments for 'auth' command\r\n"],
  ["AUTH with too many arguments", resp("AUTH", "a", "b", "c"), "-ERR syntax error\r\n"],
  ["QUIT before AUTH", resp("QUIT"), "+OK\r\n"],
];

const haveRedis = requireTool(TOOLS.redisServer, "the comparison with redis-server --requirepass");
const haveCli = requireTool(TOOLS.redisCli, "redis-cli -a");
const havePy = requireTool(TOOLS.redisPy, "redis-py with a password");

let ezra: EzraProcess;
let open: EzraProcess; // no password

beforeAll(async () => {
  [ezra, open] = await Promise.all([startEzra({ args: ["--password", PASSWORD] }), startEzra()]);
});

afterAll(async () => {
  for (const server of [ezra, open]) {
    expect(await server.stop()).toBe(0);
    removeDir(server.dataDir);
  }
});

async function exchange(port: number, request: string, length: number): Promise<string> {
  const conn = await sendRaw(port, request);
  const reply = await conn.readBytes(length);
  conn.end();
  return reply;
}

describe("the RESP exchange", () => {
  for (const [name, request, reply] of EXCHANGES) {
    test(name, async () => {
      expect(await exchange(ezra.port, request, reply.length)).toBe(reply);
    });
  }

  test("HELLO without AUTH is refused; HELLO 3 AUTH default <pass> switches to RESP3", async () => {
    const refused = await exchange(ezra.port, resp("HELLO", "3"), 40);
    expect(refused).toStartWith("-NOAUTH HELLO must be called with the client already authenticated");
    const conn = await sendRaw(ezra.port, resp("HELLO", "3", "AUTH", "default", PASSWORD) + resp("XREADGROUP", "GROUP", "g", "c", "STREAMS", "none", ">"));
    const text = await conn.until((t) => t.endsWith("_\r\n"), "a RESP3 null");
    expect(text).toStartWith("%7\r\n$6\r\nserver\r\n");
    expect(text).toContain("$5\r\nproto\r\n:3\r\n");
    conn.end();
  });

  test("AUTH with no password configured is Redis's error", async () => {
    const reply = "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n";
    expect(await exchange(open.port, resp("AUTH", "x"), reply.length)).toBe(reply);
  });

  test("before AUTH only small commands are read: 10 arguments, 16 KiB per argument", async () => {
    for (const request of [resp("AUTH", ...Array.from({ length: 10 }, () => "x")), resp("AUTH", "x".repeat(16 * 1024 + 1))]) {
      const conn = await sendRaw(ezra.port, request);
      await conn.waitClosed();
      expect(conn.text).toStartWith("-ERR Protocol error: invalid ");
    }
    // Authenticated in the same write, the next command may be big again.
    const big = "x".repeat(100_000);
    const conn = await sendRaw(ezra.port, resp("AUTH", PASSWORD) + resp("ECHO", big));
    expect(await conn.readBytes(5 + 100_008)).toBe(`+OK\r\n$100000\r\n${big}\r\n`);
    conn.end();
  });
});

describe.skipIf(!haveRedis)("redis-server --requirepass answers the same", () => {
  let redis: RedisProcess;
  beforeAll(async () => {
    redis = await startRedis(["--requirepass", PASSWORD]);
  });
  afterAll(async () => {
    await redis?.stop();
  });
  for (const [name, request, reply] of EXCHANGES) {
    test(name, async () => {
      expect(await exchange(redis.port, request, reply.length)).toBe(reply);
    });
  }
});

describe("real clients", () => {
  test("node-redis with a password pushes, pops and acks; without one it gets NOAUTH, with a wrong one WRONGPASS", async () => {
    const client = await createClient({ socket: { host: "127.0.0.1", port: ezra.port }, password: PASSWORD }).connect();
    const id = await client.xAdd("nr", "*", { job: "1" });
    const read = await client.xReadGroup("g", "c", { key: "nr", id: ">" });
    expect(read?.[0].messages[0]).toEqual({ id, message: { job: "1", attempts: "1", max_attempts: "3" } });
    expect(await client.xAck("nr", "g", id)).toBe(1);
    await client.quit();

    // node-redis opens with HELLO, which is refused before authentication (as Redis does).
    const anonymous = createClient({ socket: { host: "127.0.0.1", port: ezra.port, reconnectStrategy: false } });
    anonymous.on("error", () => {});
    await expect(anonymous.connect()).rejects.toThrow("NOAUTH");
    const wrong = createClient({ socket: { host: "127.0.0.1", port: ezra.port, reconnectStrategy: false }, password: "nope" });
    wrong.on("error", () => {});
    await expect(wrong.connect()).rejects.toThrow("WRONGPASS");
  });

  test("ioredis with a password", async () => {
    const client = new Redis({ host: "127.0.0.1", port: ezra.port, password: PASSWORD, lazyConnect: true });
    await client.connect();
    const id = await client.xadd("io", "*", "job", "2");
    const read = (await client.xreadgroup("GROUP", "g", "c", "STREAMS", "io", ">")) as [string, [string, string[]][]][];
    expect(read[0][1][0]).toEqual([id!, ["job", "2", "attempts", "1", "max_attempts", "3"]]);
    expect(await client.xack("io", "g", id!)).toBe(1);
    client.disconnect();
  });

  test.skipIf(!haveCli)("redis-cli -a", async () => {
    const cli = (...args: string[]) => Bun.spawnSync(["redis-cli", "-h", "127.0.0.1", "-p", String(ezra.port), ...args]);
    const added = cli("-a", PASSWORD, "--no-auth-warning", "XADD", "cliq", "*", "job", "3");
    expect(added.stdout.toString().trim()).toMatch(/^\d+-\d+$/);
    expect(cli("-a", PASSWORD, "--no-auth-warning", "XLEN", "cliq").stdout.toString().trim()).toBe("1");
    expect(cli("XLEN", "cliq").stdout.toString().trim()).toBe("NOAUTH Authentication required.");
  });

  test.skipIf(!havePy)("redis-py with a password", () => {
    const script = `
import sys, redis
port = int(sys.argv[1])
r = redis.Redis(host="127.0.0.1", port=port, password=sys.argv[2], decode_responses=True)
task = r.xadd("pyq", {"job": "4"})
[[stream, [[got, fields]]]] = r.xreadgroup("g", "c", {"pyq": ">"}, count=1)
print(got == task, fields["job"], r.xack("pyq", "g", task))
try:
    redis.Redis(host="127.0.0.1", port=port, password="nope").ping()
except (redis.AuthenticationError, redis.ResponseError) as e:
    print("refused:", e)
`;
    const run = Bun.spawnSync([SYSTEM_PYTHON, "-c", script, String(ezra.port), PASSWORD]);
    expect(run.stderr.toString()).toBe("");
    expect(run.stdout.toString().split("\n")).toEqual(["True 4 1", "refused: WRONGPASS invalid username-password pair or user is disabled.", ""]);
  });
});

describe("binding beyond loopback", () => {
  // These exit during flag checks, before any listener exists: nothing is ever exposed.
  for (const [name, args, env] of [
    ["--host 0.0.0.0", ["--host", "0.0.0.0"], {}],
    ["--host ::", ["--host", "::"], {}],
    ["EZRA_HOST=0.0.0.0", [], { EZRA_HOST: "0.0.0.0" }],
  ] as [string, string[], Record<string, string>][]) {
    test(`${name} without a password is refused at start with exit code 2, naming --allow-public`, () => {
      const dataDir = tempDir();
      const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("EZRA_")));
      const run = Bun.spawnSync([BUN, join(ROOT, "src", "main.ts"), "--data-dir", dataDir, "--port", "0", ...args], {
        env: { ...inherited, ...env },
      });
      removeDir(dataDir);
      expect(run.exitCode).toBe(2);
      expect(run.stdout.toString()).not.toContain("listening");
      expect(run.stderr.toString()).toContain("--allow-public");
      expect(run.stderr.toString().trim().split("\n")).toHaveLength(1);
    });
  }

  test("a password or --allow-public make a public address acceptable; loopback needs neither", () => {
    const config = (flags: Record<string, string | boolean>, env: Record<string, string> = {}) => resolveConfig({ "data-dir": "/tmp", ...flags }, env);
    expect(() => config({ host: "0.0.0.0" })).toThrow(ConfigError);
    expect(config({ host: "0.0.0.0", password: "x" }).host).toBe("0.0.0.0");
    expect(config({ host: "0.0.0.0" }, { EZRA_PASSWORD: "x" }).password).toBe("x");
    expect(config({ host: "0.0.0.0", "allow-public": true }).allowPublic).toBe(true);
    for (const host of ["127.0.0.1", "127.8.9.1", "::1", "localhost"]) expect(config({ host }).host).toBe(host);
  });
});

test("the password check hashes both sides with SHA-256 and compares with timingSafeEqual", () => {
  // Constant time by construction (code review): equal-length digests, so neither the content nor
  // the length of a guess changes the work done. Behaviour is checked here, never timing.
  const source = passwordMatches.toString();
  expect(source).toContain("sha256");
  expect(source).toContain("timingSafeEqual");
  expect(passwordMatches(PASSWORD, PASSWORD)).toBe(true);
  expect(passwordMatches(PASSWORD, "")).toBe(false);
  expect(passwordMatches(PASSWORD, `${PASSWORD}x`.repeat(100))).toBe(false); // a different length does not throw
});
