// A client script in another language (Ruby, PHP, Perl) driven over stdin/stdout, one process
// per connection: `argv... PORT GROUP CONSUMER`, one JSON request ({op, args}) per line in, one
// JSON line ({ok} or {error}) back for each, in order. The script's first line says it connected.
import type { FileSink, Subprocess } from "bun";

export class ScriptBridge {
  private readonly waiting: ((line: string) => void)[] = [];
  private readonly lines: string[] = [];
  private readonly proc: Subprocess<"pipe", "pipe", "pipe">;
  private stderr = "";

  constructor(argv: string[], port: number, group: string, consumer: string) {
    this.proc = Bun.spawn([...argv, String(port), group, consumer], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
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
    // The process exited: fail whoever still waits, with the interpreter's own words.
    await this.proc.exited;
    await Bun.sleep(0); // let the stderr reader finish
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
    const stdin = this.proc.stdin as FileSink;
    stdin.write(`${JSON.stringify({ op, args })}\n`);
    stdin.flush();
    return this.answer<T>();
  }

  async close(): Promise<void> {
    this.proc.kill("SIGKILL");
    await this.proc.exited;
  }
}
