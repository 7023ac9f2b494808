"""Drives one redis-py connection for the worker-loop scenario (test/clients/worker-loop.test.ts).

Usage: worker_loop_bridge.py PORT GROUP CONSUMER. Reads one JSON request per line on stdin,
{"op": ..., "args": [...]}, runs it with redis-py's own stream API, and prints one JSON line
back: {"ok": result} or {"error": message}. Results use the shapes the TypeScript side expects.
"""
import json
import sys

import redis

port, group, consumer = int(sys.argv[1]), sys.argv[2], sys.argv[3]
r = redis.Redis(host="127.0.0.1", port=port, decode_responses=True, single_connection_client=True)


def entries(pairs):
    return [{"id": entry_id, "fields": list(fields.items())} for entry_id, fields in pairs]


def read(queue, entry_id, count, block=None):
    reply = r.xreadgroup(group, consumer, {queue: entry_id}, count=count, block=block)
    # redis-py turns the nil reply (nothing claimed, BLOCK timed out) into [].
    if not reply:
        return None
    return [e for _, pairs in reply for e in entries(pairs)]


def autoclaim(queue, min_idle_ms, start, count):
    next_id, claimed, _deleted = r.xautoclaim(queue, group, consumer, min_idle_ms, start_id=start, count=count)
    return {"next": next_id, "entries": entries(claimed)}


def pending(queue):
    summary = r.xpending(queue, group)
    return {"count": summary["pending"], "consumers": [[c["name"], c["pending"]] for c in summary["consumers"]]}


def pending_range(queue):
    rows = r.xpending_range(queue, group, "-", "+", 100)
    return [{"id": p["message_id"], "consumer": p["consumer"], "deliveries": p["times_delivered"]} for p in rows]


def inspect(queue):
    full = r.xinfo_stream(queue, full=True)
    return {
        "groups": [g["name"] for g in r.xinfo_groups(queue)],
        "consumers": [[c["name"], c["pending"]] for c in r.xinfo_consumers(queue, group)],
        "entries": len(full["entries"]),
        "pelCount": full["groups"][0]["pel-count"],
    }


OPS = {
    "push": lambda queue, fields: r.xadd(queue, dict(fields)),
    "read": read,
    "autoclaim": autoclaim,
    "heartbeat": lambda queue, ids: r.xclaim(queue, group, consumer, 0, ids, justid=True),
    "ack": lambda queue, ids: r.xack(queue, group, *ids),
    "pending": pending,
    "pending_range": pending_range,
    "configure": lambda queue, settings: r.execute_command("EZRA", "CONFIG", "SET", queue, *[x for kv in settings.items() for x in kv]),
    "inspect": inspect,
}


def main():
    r.ping()
    print(json.dumps({"ok": "ready"}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        try:
            answer = {"ok": OPS[request["op"]](*request["args"])}
        except redis.exceptions.ResponseError as err:
            answer = {"error": str(err)}
        print(json.dumps(answer), flush=True)


main()
