// Preloaded by bunfig.toml before every test file: hooks for the whole run.
import { afterAll } from "bun:test";
import { killLeftoverServers } from "./helpers/servers.ts";

// A test that failed before stopping its server must not leave it running after the suite.
afterAll(killLeftoverServers);
