// A raw TCP client for protocol tests: writes exact bytes (queueing what the socket does not take),
// collects every reply byte as latin1 text, and tells when the server closed the connection.
import type { Socket } from "bun";

/** Upper bound on waiting for a reply or a close: a guard against a hung test, never a timing assertion. */
export const WAIT_MS_MAX = 15_000;

export const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "latin1"));

/** A RESP request (array of bulk strings) as latin1 text. */
export const resp = (...args: string[]): string =>
  `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a, "latin1")}\r\n${a}\r\n`).join("")}`;

export class RawConnection {
  text = "";
  closed = false;
  private pending: Uint8Array[] = [];
  private waiters: (() => void)[] = [];

  private constructor(private socket: Socket<undefined> | null) {}

  static async open(port: number, tls?: { ca?: string; cert?: string; key?: string; serverName?: string }): Promise<RawConnection> {
    const conn = new RawConnection(null);
    const notify = () => {
      for (const w of conn.waiters.splice(0)) w();
    };
    conn.socket = await Bun.connect({
      hostname: "127.0.0.1",
      port,
      tls,
      socket: {
        data(_s, chunk) {
          conn.text += Buffer.from(chunk).toString("latin1");
          notify();
        },
        drain() {
          conn.flush();
        },
        close() {
          conn.closed = true;
          notify();
        },
        error() {
          conn.closed = true;
          notify();
        },
      },
    });
    return conn;
  }

  write(data: string | Uint8Array): void {
    this.pending.push(typeof data === "string" ? bytes(data) : data);
    this.flush();
  }

  /** Bytes queued and not yet taken by the socket. */
  get unsentBytes(): number {
    return this.pending.reduce((n, b) => n + b.length, 0);
  }

  private flush(): void {
    while (this.pending.length > 0 && !this.closed && this.socket) {
      const head = this.pending[0];
      const n = this.socket.write(head);
      if (n >= head.length) this.pending.shift();
      else {
        if (n > 0) this.pending[0] = head.subarray(n);
        return; // the rest goes out on drain
      }
    }
  }

  /** Resolves once `done(text, closed)` holds; rejects after WAIT_MS_MAX with what arrived so far. */
  async until(done: (text: string, closed: boolean) => boolean, what = "a condition"): Promise<string> {
    const deadline = Date.now() + WAIT_MS_MAX;
    while (!done(this.text, this.closed)) {
      if (Date.now() > deadline) throw new Error(`waited ${WAIT_MS_MAX} ms for ${what}; got ${JSON.stringify(this.text.slice(0, 500))} closed=${this.closed}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return this.text;
  }

  /** Waits until the reply text is at least `expected` long, then returns it (to compare exactly). */
  readBytes(length: number): Promise<string> {
    return this.until((t, closed) => t.length >= length || closed, `${length} reply bytes`);
  }

  waitClosed(): Promise<string> {
    return this.until((_t, closed) => closed, "the server to close the connection");
  }

  /** Sends PING and waits for +PONG: proves the connection is open and in sync. */
  async ping(): Promise<void> {
    const before = this.text.length;
    this.write("*1\r\n$4\r\nPING\r\n");
    await this.until((t, closed) => t.length >= before + 7 || closed, "+PONG");
    if (this.text.slice(before, before + 7) !== "+PONG\r\n") throw new Error(`expected +PONG, got ${JSON.stringify(this.text.slice(before))}`);
  }

  end(): void {
    this.socket?.end();
  }
}

/** Opens a connection, sends `data` (in `chunks` pieces with a pause between), returns it. */
export async function sendRaw(port: number, data: string, chunks = 1): Promise<RawConnection> {
  const conn = await RawConnection.open(port);
  const size = Math.ceil(data.length / chunks);
  for (let i = 0; i < data.length; i += size) {
    conn.write(data.slice(i, i + size));
    if (chunks > 1) await Bun.sleep(2);
  }
  return conn;
}
