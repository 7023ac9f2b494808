// The task lifecycle, XPENDING and XAUTOCLAIM through Ruby's redis gem (Debian's ruby-redis, 4.x,
// RESP2): each scenario client is one Ruby process (rb/ruby_redis_bridge.rb).
import { join } from "node:path";
import { TOOLS } from "../helpers/tools.ts";
import { bridgedClientSuites } from "./bridged-clients.ts";

bridgedClientSuites({ name: "ruby-redis", argv: ["ruby", join(import.meta.dir, "rb", "ruby_redis_bridge.rb")], tool: TOOLS.rubyRedis });
