// The task lifecycle, XPENDING and XAUTOCLAIM through PHP's predis (Debian's php-predis, 1.x,
// RESP2): predis 1.x has no stream methods, so the bridge (php/predis_bridge.php) sends every
// stream command with executeRaw(), as a PHP user would. One PHP process per scenario client.
import { join } from "node:path";
import { TOOLS } from "../helpers/tools.ts";
import { bridgedClientSuites } from "./bridged-clients.ts";

bridgedClientSuites({ name: "predis", argv: ["php", join(import.meta.dir, "php", "predis_bridge.php")], tool: TOOLS.phpPredis });
