// A Python client process driven over stdin/stdout: one JSON request per line in, one JSON
// line ({ok} or {error}) back for each, in order. Run by Debian's python3 (SYSTEM_PYTHON),
// the one that can import Debian's python3-redis.
import type { FileSink } from "bun";
import { SYSTEM_PYTHON } from "./tools.ts";

export class PyBridge {
  private readonly waiting: ((line: string) => void)[] = [];
  private readonly lines: string[] = [];
  private readonly proc;
  private stderr = "";

  /** Runs `script port group consumer`; the script prints one line once it is connected. */
  constructor(script: string, port: number, group: string, consumer: string) {
    this.proc = Bun.spawn([SYSTEM_PYTHON, script, String(port), group, consumer], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    void this.readLines(this.proc.stdout);
    void new Response(this.proc.stderr).text().then((text) => (this.stderr = text));
  }

  private async readLines(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of stream) {
      buffered += decoder.decode(chunk, { stream: true });
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const waiter = this.waiting.shift();
        if (waiter) waiter(line);
        else this.lines.push(line);
      }
    }
    // The process exited: fail whoever still waits, with Python's own words.
    await this.proc.exited;
    for (const waiter of this.waiting.splice(0)) waiter(JSON.stringify({ error: `bridge exited ${this.proc.exitCode}: ${this.stderr}` }));
  }

  private async answer<T>(): Promise<T> {
    const line = this.lines.shift() ?? (await new Promise<string>((resolve) => this.waiting.push(resolve)));
    const reply = JSON.parse(line) as { ok?: T; error?: string };
    if (reply.error !== undefined) throw new Error(reply.error);
    return reply.ok as T;
  }

  /** Resolves once the script has connected (its first line). */
  ready(): Promise<unknown> {
    return this.answer();
  }

  call<T = unknown>(op: string, ...args: unknown[]): Promise<T> {
    (this.proc.stdin as FileSink).write(`${JSON.stringify({ op, args })}\n`);
    (this.proc.stdin as FileSink).flush();
    return this.answer<T>();
  }

  async close(): Promise<void> {
    this.proc.kill("SIGKILL");
    await this.proc.exited;
  }
}
