// One ezra server and one plain client shared by every test of a file: started before the
// first test, and stopped (exit code 0 checked) after the last, with any extra clients closed.
import { afterAll, beforeAll, expect } from "bun:test";
import { connectPlain, type Plain, type PlainClient } from "./plain-client.ts";
import { type EzraProcess, removeDir, startEzra } from "./servers.ts";

export interface SharedServer {
  readonly port: number;
  /** The shared client (for raw replies: `main.raw(...)`). */
  readonly main: PlainClient;
  call(...args: (string | number)[]): Promise<Plain>;
  /** Another connection, closed with the server. */
  client(): Promise<PlainClient>;
}

/** Call at a test file's top level: registers the beforeAll/afterAll that run the server. */
export function sharedServer(): SharedServer {
  let ezra: EzraProcess;
  let main: PlainClient;
  const extra: PlainClient[] = [];
  beforeAll(async () => {
    ezra = await startEzra();
    main = await connectPlain(ezra.port);
  });
  afterAll(async () => {
    for (const c of [main, ...extra]) c.close();
    expect(await ezra.stop()).toBe(0);
    removeDir(ezra.dataDir);
  });
  return {
    get port() {
      return ezra.port;
    },
    get main() {
      return main;
    },
    call: (...args) => main.call(...args),
    async client() {
      const c = await connectPlain(ezra.port);
      extra.push(c);
      return c;
    },
  };
}
