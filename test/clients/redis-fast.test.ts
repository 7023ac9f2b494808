// The task lifecycle, XPENDING and XAUTOCLAIM through Perl's Redis::Fast (Debian's
// libredis-fast-perl, RESP2): each scenario client is one Perl process (pl/redis_fast_bridge.pl).
import { join } from "node:path";
import { TOOLS } from "../helpers/tools.ts";
import { bridgedClientSuites } from "./bridged-clients.ts";

bridgedClientSuites({ name: "Redis::Fast", argv: ["perl", join(import.meta.dir, "pl", "redis_fast_bridge.pl")], tool: TOOLS.perlRedisFast });
