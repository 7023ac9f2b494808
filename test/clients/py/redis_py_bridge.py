"""Drives one redis-py connection for the bun:test lifecycle scenario (test/clients/redis-py.test.ts).

Usage: redis_py_bridge.py PORT GROUP CONSUMER. Reads one JSON request per line on stdin,
{"op": ..., "args": [...]}, runs it with redis-py's own API, and prints one JSON line back:
{"ok": result} or {"error": message}. Requests run one at a time, like a worker's loop.
"""
import json
import sys

import redis

port, group, consumer = int(sys.argv[1]), sys.argv[2], sys.argv[3]
# One connection per bridge (so per scenario client); decoded replies, like most Python users.
r = redis.Redis(host="127.0.0.1", port=port, decode_responses=True, single_connection_client=True)


def pop(queue, count=None, block=None):
    reply = r.xreadgroup(group, consumer, {queue: ">"}, count=count, block=block)
    # redis-py turns the nil reply (nothing to claim, or BLOCK timed out) into [].
    if not reply:
        return None
    return [{"id": entry_id, "fields": list(fields.items())} for _, entries in reply for entry_id, fields in entries]


def transaction(queue, tasks):
    # redis-py's default pipeline: transaction=True wraps the commands in MULTI ... EXEC.
    pipe = r.pipeline()
    for fields in tasks:
        pipe.xadd(queue, dict(fields))
    pipe.xlen(queue)
    return pipe.execute()


def watched_push(queue, fields, other_port):
    # The optimistic-locking recipe: WATCH, read, MULTI, write, EXEC; another client's write in
    # between makes EXEC fail with WatchError, and nothing of the transaction is applied.
    with r.pipeline() as pipe:
        pipe.watch(queue)
        pipe.xlen(queue)
        redis.Redis(host="127.0.0.1", port=other_port).xadd(queue, {"by": "other"})
        pipe.multi()
        pipe.xadd(queue, dict(fields))
        try:
            pipe.execute()
            return "applied"
        except redis.exceptions.WatchError:
            return "watch error"


OPS = {
    "transaction": transaction,
    "watched_push": watched_push,
    # A dict keeps insertion order, so the fields go out in the order given.
    "push": lambda queue, fields: r.xadd(queue, dict(fields)),
    "pop": pop,
    "ack": lambda queue, ids: r.xack(queue, group, *ids),
    "nack": lambda queue, entry_id, reason: r.execute_command("XNACK", queue, group, entry_id, "REASON", reason),
    "length": lambda queue: r.xlen(queue),
    "configure": lambda queue, settings: r.execute_command("EZRA", "CONFIG", "SET", queue, *[x for kv in settings.items() for x in kv]),
    "blocked_clients": lambda: r.info("clients")["blocked_clients"],
    "client_info": lambda: r.execute_command("CLIENT", "INFO"),
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
