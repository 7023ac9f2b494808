// Normalisers for the pending/claims and group-inspection cases: clock readings (idle times,
// delivery and seen times), radix-tree internals, ezra's own XINFO fields, and the consumer
// fields Redis 7.2 added (ezra reports 7.2; an older redis-server lacks them).
import type { Reply } from "../helpers/resp-client.ts";
import { mapFields, type Normaliser, type Step } from "./normalisers.ts";

const isCommand = (step: Step, ...words: string[]) => words.every((w, i) => step[i]?.toLowerCase() === w);
const isFull = (step: Step) => isCommand(step, "xinfo", "stream") && step[3]?.toLowerCase() === "full";
const MS: Reply = { type: "integer", value: "<ms>" };
const TIME: Reply = { type: "integer", value: "<time>" };

const items = (r: Reply): Reply[] => (r.type === "array" ? r.items : []);
const eachItem = (r: Reply, fn: (item: Reply) => Reply): Reply => (r.type === "array" ? { ...r, items: r.items.map(fn) } : r);
/** Replaces element `at` of a fixed-size row such as XPENDING's [id, consumer, idle, count]. */
const maskAt = (row: Reply, at: number, mask: Reply): Reply =>
  row.type === "array" && row.items.length > at && row.items[at].type === "integer"
    ? { ...row, items: row.items.map((v, i) => (i === at ? mask : v)) }
    : row;
const nameOf = (r: Reply) => (r.type === "bulk" || r.type === "simple" ? r.value : "");

/** The groups of an XINFO STREAM FULL reply, each rewritten by `fn`. */
const editFullGroups = (reply: Reply, fn: (group: Reply) => Reply) =>
  mapFields(reply, (name, v) => (name === "groups" ? eachItem(v, fn) : v));

/** Milliseconds read from a clock: idle times and delivery/seen/active times. */
export const pendingTimes: Normaliser = {
  name: "pendingTimes",
  side: "both",
  apply(reply, step) {
    if (isCommand(step, "xpending") && step.length > 3) return eachItem(reply, (row) => maskAt(row, 2, MS));
    if (isCommand(step, "xinfo", "consumers")) {
      return eachItem(reply, (c) => mapFields(c, (name, v) => (name === "idle" || name === "inactive" ? MS : v)));
    }
    if (!isFull(step)) return reply;
    return editFullGroups(reply, (group) =>
      mapFields(group, (name, v) => {
        if (name === "pending") return eachItem(v, (row) => maskAt(row, 2, TIME));
        if (name !== "consumers") return v;
        return eachItem(v, (c) =>
          mapFields(c, (field, value) => {
            if (field === "seen-time" || field === "active-time") return TIME;
            return field === "pending" ? eachItem(value, (row) => maskAt(row, 1, TIME)) : value;
          }),
        );
      }),
    );
  },
};

/** radix-tree-keys/nodes describe Redis's memory layout; ezra has none to report. */
export const radixTree: Normaliser = {
  name: "radixTree",
  side: "both",
  apply(reply, step) {
    if (!isCommand(step, "xinfo", "stream")) return reply;
    return mapFields(reply, (name, v) => (name.startsWith("radix-tree-") ? { type: "integer", value: "<n>" } : v));
  },
};

/** Drops ezra's own XINFO STREAM fields (ezra-available, ...), which follow Redis's. */
export const ezraInfoFields: Normaliser = {
  name: "ezraInfoFields",
  side: "ezra",
  apply(reply, step) {
    if (!isCommand(step, "xinfo", "stream")) return reply;
    if (reply.type === "map") return { ...reply, entries: reply.entries.filter(([k]) => !nameOf(k).startsWith("ezra-")) };
    if (reply.type !== "array") return reply;
    const kept: Reply[] = [];
    for (let i = 0; i + 1 < reply.items.length; i += 2) {
      if (!nameOf(reply.items[i]).startsWith("ezra-")) kept.push(reply.items[i], reply.items[i + 1]);
    }
    return { ...reply, items: kept };
  },
};

/** Inserts `name: value` after the field `after` unless `name` is there (a map, or RESP2's flat list). */
function insertAfter(r: Reply, after: string, name: string): Reply {
  const key: Reply = { type: "bulk", value: name };
  if (r.type === "map") {
    if (r.entries.some(([k]) => nameOf(k) === name)) return r;
    const at = r.entries.findIndex(([k]) => nameOf(k) === after);
    if (at < 0) return r;
    return { ...r, entries: [...r.entries.slice(0, at + 1), [key, r.entries[at][1]], ...r.entries.slice(at + 1)] };
  }
  const list = items(r);
  const names = list.filter((_, i) => i % 2 === 0).map(nameOf);
  const at = names.indexOf(after);
  if (at < 0 || names.includes(name)) return r;
  const value = list[2 * at + 1];
  return { type: "array", items: [...list.slice(0, 2 * at + 2), key, value, ...list.slice(2 * at + 2)] };
}

/**
 * Redis 7.2 added XINFO CONSUMERS' `inactive` (after `idle`) and STREAM FULL's `active-time`
 * (after `seen-time`); ezra reports 7.2 and sends them. On a 7.0 redis-server this adds them
 * with the neighbouring clock value (masked by pendingTimes); on 7.2+ it changes nothing.
 */
export const redis72ConsumerFields: Normaliser = {
  name: "redis72ConsumerFields",
  side: "redis",
  apply(reply, step) {
    if (isCommand(step, "xinfo", "consumers")) return eachItem(reply, (c) => insertAfter(c, "idle", "inactive"));
    if (!isFull(step)) return reply;
    return editFullGroups(reply, (group) =>
      mapFields(group, (name, v) => (name === "consumers" ? eachItem(v, (c) => insertAfter(c, "seen-time", "active-time")) : v)),
    );
  },
};

export const REDIS_72_CONSUMERS = "redis-server 7.0 lacks the consumer fields Redis 7.2 added (inactive, active-time); ezra reports 7.2";
