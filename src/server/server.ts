// The TCP front door: Bun.listen on loopback by default, one Connection per socket, and the
// turn listener that flushes every touched connection once the group commit is done.
import type { Socket, TCPSocketListener } from "bun";
import type { ServerFacts, Session } from "../commands/types.ts";
import type { Engine } from "../queue/engine.ts";
import { Connection, type ConnectionHost } from "./connection.ts";
import type { Limits } from "./limits.ts";

export interface ServerOptions {
  host: string;
  port: number;
  password: string | null;
  version: string;
  durability: string;
  limits: Limits;
  tls?: { cert: string; key: string; ca?: string };
  log?: (message: string) => void;
}

export class Server implements ConnectionHost {
  readonly facts: ServerFacts;
  readonly limits: Limits;
  private listener: TCPSocketListener<Connection> | null = null;
  private readonly connections = new Set<Connection>();
  private readonly dirty = new Set<Connection>();
  private nextClientId = 1;
  private stopping = false;

  constructor(
    readonly engine: Engine,
    private readonly options: ServerOptions,
  ) {
    this.limits = options.limits;
    const connections = this.connections;
    this.facts = {
      version: options.version,
      startedAt: Date.now(),
      get port() {
        return boundPort;
      },
      host: options.host,
      password: options.password,
      dataFile: engine.driver.location,
      durability: options.durability,
      clientCount: () => connections.size,
      clientList: (): Session[] => [...connections],
      limits: { ...options.limits },
    };
    let boundPort = options.port;
    this.boundPort = (p: number) => {
      boundPort = p;
    };
    engine.turn.onFinish((failure) => {
      // Copy first: afterTurn may run more commands, which open the next turn and mark again.
      const touched = [...this.dirty];
      this.dirty.clear();
      for (const conn of touched) conn.afterTurn(failure);
    });
  }

  private readonly boundPort: (port: number) => void;

  log(message: string): void {
    (this.options.log ?? ((m: string) => console.error(m)))(message);
  }

  markDirty(conn: Connection): void {
    this.dirty.add(conn);
  }

  get port(): number {
    return this.facts.port;
  }

  listen(): number {
    const server = this;
    this.listener = Bun.listen<Connection>({
      hostname: this.options.host,
      port: this.options.port,
      tls: this.options.tls,
      socket: {
        open(socket: Socket<Connection>) {
          if (server.stopping || server.connections.size >= server.limits.connectionsMax) {
            socket.write("-ERR max number of clients reached\r\n");
            socket.end();
            return;
          }
          const conn = new Connection(server.nextClientId++, socket, server);
          socket.data = conn;
          server.connections.add(conn);
        },
        data(socket, chunk) {
          socket.data?.onData(chunk);
        },
        drain(socket) {
          socket.data?.onDrain();
        },
        close(socket) {
          const conn = socket.data;
          if (!conn) return;
          server.connections.delete(conn);
          server.dirty.delete(conn);
          conn.onClose();
        },
        error(socket, error) {
          server.log(`client ${socket.data?.id ?? "?"}: ${error.message}`);
        },
      },
    });
    this.boundPort(this.listener.port);
    return this.listener.port;
  }

  /** Stops accepting, answers blocked clients (null, as a timeout), commits, closes sockets. */
  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    // false: stop accepting but keep the sockets, so blocked clients still get their null reply
    // (stop(true) closed them first, which cancelled the waiters silently); destroy() closes them.
    this.listener?.stop(false);
    this.engine.drainWaiters();
    this.engine.turn.finish();
    for (const conn of this.connections) conn.destroy();
  }
}
