// A test client that answers plain JS values over the raw RESP client: strings, numbers,
// arrays, null for every null kind, and a thrown Error for an error reply. Exact shapes
// (map vs array, which null) stay checkable through `raw`.
import { type Reply, RespClient } from "./resp-client.ts";

export type Plain = string | number | boolean | null | Plain[];

/** Longest wait for the server to report a number of blocked clients. */
const BLOCKED_WAIT_MS_MAX = 10_000;

export function plain(r: Reply): Plain {
  switch (r.type) {
    case "simple":
    case "bulk":
    case "verbatim":
    case "double":
    case "bignum":
      return r.value;
    case "integer":
      return Number(r.value);
    case "boolean":
      return r.value;
    case "error":
    case "blobError":
      throw new Error(r.value);
    case "array":
    case "set":
    case "push":
      return r.items.map(plain);
    case "map":
      return r.entries.map(([k, v]) => [plain(k), plain(v)]);
    case "attribute":
      return plain(r.reply);
    case "closed":
      throw new Error("connection closed");
    default:
      return null;
  }
}

export interface PlainClient {
  call(...args: (string | number)[]): Promise<Plain>;
  raw(...args: (string | number)[]): Promise<Reply>;
  close(): void;
}

export async function connectPlain(port: number): Promise<PlainClient> {
  const client = await RespClient.connect(port);
  const raw = (...args: (string | number)[]) => client.send(args.map(String));
  return { raw, call: async (...args) => plain(await raw(...args)), close: () => client.close() };
}

/** Waits until INFO reports `n` blocked clients, so a test acts only once its readers wait. */
export async function waitBlocked(c: PlainClient, n: number): Promise<void> {
  const deadline = Date.now() + BLOCKED_WAIT_MS_MAX;
  for (;;) {
    const info = String(await c.call("INFO", "clients"));
    const blocked = Number(/blocked_clients:(\d+)/.exec(info)?.[1] ?? -1);
    if (blocked === n) return;
    if (Date.now() > deadline) throw new Error(`expected ${n} blocked clients, the server reports ${blocked}`);
    await Bun.sleep(5);
  }
}
