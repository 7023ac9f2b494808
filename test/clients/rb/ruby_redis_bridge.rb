# Drives one ruby-redis (redis gem 4.x) connection for test/clients/ruby-redis.test.ts.
#
# Usage: ruby ruby_redis_bridge.rb PORT GROUP CONSUMER. Reads one JSON request per line on
# stdin, {"op": ..., "args": [...]}, runs it with the gem's own stream methods (XNACK and EZRA
# through Redis#call, as a Ruby user would), and prints one JSON line back: {"ok": result} or
# {"error": message}. Requests run one at a time, like a worker's loop.
require "json"
require "redis"

port, group, consumer = Integer(ARGV[0]), ARGV[1], ARGV[2]
$stdout.sync = true
# One connection, no silent reconnect: a test that kills the server must see the failure.
r = Redis.new(host: "127.0.0.1", port: port, reconnect_attempts: 0)

# The gem hands entries out as [id, {field => value}]; a Hash keeps insertion order.
entries = ->(list) { list.map { |id, fields| { "id" => id, "fields" => fields.to_a } } }

ops = {
  # MULTI ... EXEC through the gem's block form; the block's commands are queued, EXEC's
  # replies come back as one array.
  "transaction" => lambda { |queue, tasks|
    r.multi do |tx|
      tasks.each { |fields| tx.xadd(queue, fields.to_h) }
      tx.xlen(queue)
    end
  },
  "push" => ->(queue, fields) { r.xadd(queue, fields.to_h) },
  "pop" => lambda { |queue, count, block|
    reply = r.xreadgroup(group, consumer, queue, ">", count: count, block: block)
    # The gem turns the nil reply (nothing to claim, or BLOCK timed out) into {}.
    reply.empty? ? nil : reply.values.flat_map { |list| entries.(list) }
  },
  "ack" => ->(queue, ids) { r.xack(queue, group, *ids) },
  "nack" => ->(queue, id, reason) { r.call("XNACK", queue, group, id, "REASON", reason) },
  "length" => ->(queue) { r.xlen(queue) },
  "configure" => ->(queue, settings) { r.call("EZRA", "CONFIG", "SET", queue, *settings.to_a.flatten) },
  "blocked_clients" => -> { r.info("clients")["blocked_clients"].to_i },
  "client_info" => -> { r.call("CLIENT", "INFO") },
  "pending" => lambda { |queue|
    p = r.xpending(queue, group)
    # Redis sends each consumer's count as a bulk string.
    { "count" => p["size"], "first" => p["min_entry_id"], "last" => p["max_entry_id"],
      "consumers" => p["consumers"].map { |name, n| [name, Integer(n)] } }
  },
  "pending_range" => lambda { |queue|
    r.xpending(queue, group, "-", "+", 100).map { |row| { "id" => row["entry_id"], "consumer" => row["consumer"], "deliveries" => row["count"] } }
  },
  "autoclaim" => lambda { |queue, min_idle, start, count|
    reply = r.xautoclaim(queue, group, consumer, min_idle, start, count: count)
    { "next" => reply["next"], "entries" => entries.(reply["entries"]) }
  },
}

r.ping
puts JSON.generate({ "ok" => "ready" })
$stdin.each_line do |line|
  request = JSON.parse(line)
  answer =
    begin
      { "ok" => ops.fetch(request["op"]).call(*request["args"]) }
    rescue Redis::CommandError => e
      { "error" => e.message }
    end
  puts JSON.generate(answer)
end
