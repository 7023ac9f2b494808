// Normalisers for the differential suite: each rewrites one kind of value that must differ by
// nature (generated ids, client ids, versions) or one declared ezra difference, and nothing else.
import type { Reply } from "../helpers/resp-client.ts";

export type Step = string[];

/**
 * side "both": a value that differs between any two servers (a clock-made id, a client id);
 * applied to Redis's and ezra's replies alike.
 * side "ezra": an intended difference, applied to ezra's replies only. A case using one must
 * say `because`, and the runner fails the case when it changed nothing (a stale exception).
 * side "redis": older Redis wording rewritten to the Redis 7.2 text ezra follows; it changes
 * nothing on a newer redis-server. Also needs `because`.
 */
export interface Normaliser {
  name: string;
  side: "both" | "ezra" | "redis";
  /** `state` lives for one transcript (one server, one run): placeholders count up in it. */
  apply(reply: Reply, step: Step, state: Map<string, string>): Reply;
}

/** Rebuilds a reply bottom-up with `fn` applied to every node. */
export function mapReply(reply: Reply, fn: (r: Reply) => Reply): Reply {
  switch (reply.type) {
    case "array":
    case "set":
    case "push":
      return fn({ ...reply, items: reply.items.map((r) => mapReply(r, fn)) });
    case "map":
      return fn({ ...reply, entries: reply.entries.map(([k, v]) => [mapReply(k, fn), mapReply(v, fn)]) });
    case "attribute":
      return fn({
        ...reply,
        entries: reply.entries.map(([k, v]) => [mapReply(k, fn), mapReply(v, fn)]),
        reply: mapReply(reply.reply, fn),
      });
    default:
      return fn(reply);
  }
}

/** Rewrites the values of a RESP3 map or its RESP2 form (a flat array of name, value). */
export function mapFields(reply: Reply, fn: (name: string, value: Reply) => Reply): Reply {
  const name = (r: Reply) => (r.type === "bulk" || r.type === "simple" ? r.value : "");
  if (reply.type === "map") return { ...reply, entries: reply.entries.map(([k, v]) => [k, fn(name(k), v)]) };
  if (reply.type === "array" && reply.items.length % 2 === 0) {
    return { ...reply, items: reply.items.map((v, i) => (i % 2 === 1 ? fn(name(reply.items[i - 1]), v) : v)) };
  }
  return reply;
}

const isCommand = (step: Step, ...words: string[]) => words.every((w, i) => step[i]?.toLowerCase() === w);

/** Ids made from the clock: ms part 10^12 or more (after 2001). Explicit ids in scripts stay small. */
const CLOCK_ID = /^(\d{13,})-(\d+)$/;

/** Clock-made stream ids (from `*`) become <id1>, <id2>, ... in order of first appearance. */
export const autoIds: Normaliser = {
  name: "autoIds",
  side: "both",
  apply(reply, _step, state) {
    return mapReply(reply, (r) => {
      if (r.type !== "bulk" || !CLOCK_ID.test(r.value)) return r;
      let placeholder = state.get(`id:${r.value}`);
      if (!placeholder) {
        placeholder = `<id${[...state.keys()].filter((k) => k.startsWith("id:")).length + 1}>`;
        state.set(`id:${r.value}`, placeholder);
      }
      return { type: "bulk", value: placeholder };
    });
  },
};

/** Connection ids differ by server and by how many clients came before: CLIENT ID and HELLO's id. */
export const clientIds: Normaliser = {
  name: "clientIds",
  side: "both",
  apply(reply, step) {
    const placeholder: Reply = { type: "integer", value: "<client-id>" };
    if (isCommand(step, "client", "id") && reply.type === "integer") return placeholder;
    if (isCommand(step, "hello")) return mapFields(reply, (name, v) => (name === "id" && v.type === "integer" ? placeholder : v));
    return reply;
  },
};

/** HELLO's version: the Redis release installed vs the Redis version ezra reports. */
export const serverVersions: Normaliser = {
  name: "serverVersions",
  side: "both",
  apply(reply, step) {
    if (!isCommand(step, "hello")) return reply;
    return mapFields(reply, (name, v) => (name === "version" && v.type === "bulk" ? { type: "bulk", value: "<version>" } : v));
  },
};

/**
 * ezra appends `attempts` and `max_attempts` to every entry it hands out (DESIGN.md); this
 * strips that tail from ezra's entries so the rest of the shape is compared with Redis's.
 */
export const ezraAttemptFields: Normaliser = {
  name: "ezraAttemptFields",
  side: "ezra",
  apply(reply) {
    return mapReply(reply, (r) => {
      if (r.type !== "array" || r.items.length !== 2) return r;
      const [id, fields] = r.items;
      if (id.type !== "bulk" || fields.type !== "array" || fields.items.length < 4) return r;
      const tail = fields.items.slice(-4);
      const named = (i: number, n: string) => tail[i].type === "bulk" && (tail[i] as { value: string }).value === n;
      if (!named(0, "attempts") || !named(2, "max_attempts")) return r;
      return { ...r, items: [id, { ...fields, items: fields.items.slice(0, -4) }] };
    });
  },
};

/** Error texts Redis 7.0 words differently from Redis 7.2+ (ezra reports 7.2): old -> new. */
const REDIS_72_WORDING: [RegExp, string][] = [
  [
    /^ERR Unbalanced XREAD list of streams: for each stream key an ID or '\$' must be specified\.$/,
    "ERR Unbalanced 'xreadgroup' list of streams: for each stream key an ID or '>' must be specified.",
  ],
];

/** Rewrites Redis 7.0's wording of an error to the Redis 7.2 text (XREADGROUP only). */
export const redis72Wording: Normaliser = {
  name: "redis72Wording",
  side: "redis",
  apply(reply, step) {
    if (reply.type !== "error" || !isCommand(step, "xreadgroup")) return reply;
    for (const [old, now] of REDIS_72_WORDING) if (old.test(reply.value)) return { type: "error", value: now };
    return reply;
  },
};

/** Every normaliser by name, for error messages and docs. */
export const NORMALISERS = { autoIds, clientIds, serverVersions, ezraAttemptFields, redis72Wording };
