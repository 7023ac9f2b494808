<?php
// Drives one predis connection (Debian's php-predis, 1.x) for test/clients/predis.test.ts.
//
// Usage: php predis_bridge.php PORT GROUP CONSUMER. Reads one JSON request per line on stdin,
// {"op": ..., "args": [...]}, runs it and prints one JSON line back: {"ok": result} or
// {"error": message}. predis 1.x has no stream methods, so every stream command goes through
// Client::executeRaw(), as a PHP user of predis 1.x writes it; the replies are RESP2's arrays.
require 'Predis/autoload.php'; // Debian puts predis under /usr/share/php, on the include_path

[, $port, $group, $consumer] = $argv;
// read_write_timeout 0: no socket timeout, so XREADGROUP BLOCK 0 can wait as long as it must.
$client = new Predis\Client(['host' => '127.0.0.1', 'port' => (int) $port, 'read_write_timeout' => 0]);

final class ReplyError extends RuntimeException {}

/** executeRaw() returns an error reply as its message and sets $error: raise it instead. */
function raw(array $args) {
    global $client;
    $reply = $client->executeRaw(array_map('strval', $args), $error);
    if ($error) throw new ReplyError($reply);
    return $reply;
}

/** [field, value, field, value, ...] as [[field, value], ...], in order. */
function pairs(array $flat): array {
    return array_chunk($flat, 2);
}

function entries(array $list): array {
    return array_map(fn ($e) => ['id' => $e[0], 'fields' => pairs($e[1])], $list);
}

$ops = [
    'push' => fn ($queue, $fields) => raw(array_merge(['XADD', $queue, '*'], ...$fields)),
    'pop' => function ($queue, $count, $block) use ($group, $consumer) {
        $args = ['XREADGROUP', 'GROUP', $group, $consumer];
        if ($count !== null) array_push($args, 'COUNT', $count);
        if ($block !== null) array_push($args, 'BLOCK', $block);
        $reply = raw(array_merge($args, ['STREAMS', $queue, '>']));
        if ($reply === null) return null; // nothing to claim, or BLOCK timed out
        return array_merge(...array_map(fn ($stream) => entries($stream[1]), $reply));
    },
    'ack' => fn ($queue, $ids) => raw(array_merge(['XACK', $queue, $group], $ids)),
    'nack' => fn ($queue, $id, $reason) => (string) raw(['XNACK', $queue, $group, $id, 'REASON', $reason]),
    'length' => fn ($queue) => raw(['XLEN', $queue]),
    'configure' => function ($queue, $settings) {
        $args = ['EZRA', 'CONFIG', 'SET', $queue];
        foreach ($settings as $name => $value) array_push($args, $name, $value);
        return (string) raw($args);
    },
    'blocked_clients' => function () {
        preg_match('/^blocked_clients:(\d+)/m', raw(['INFO', 'clients']), $m);
        return (int) $m[1];
    },
    'client_info' => fn () => raw(['CLIENT', 'INFO']),
    'pending' => function ($queue) use ($group) {
        [$count, $first, $last, $consumers] = raw(['XPENDING', $queue, $group]);
        // Redis sends each consumer's count as a bulk string.
        return ['count' => $count, 'first' => $first, 'last' => $last,
            'consumers' => array_map(fn ($c) => [$c[0], (int) $c[1]], $consumers ?? [])];
    },
    'pending_range' => fn ($queue) => array_map(
        fn ($row) => ['id' => $row[0], 'consumer' => $row[1], 'deliveries' => $row[3]],
        raw(['XPENDING', $queue, $group, '-', '+', 100]),
    ),
    'autoclaim' => function ($queue, $minIdle, $start, $count) use ($group, $consumer) {
        [$next, $list] = raw(['XAUTOCLAIM', $queue, $group, $consumer, $minIdle, $start, 'COUNT', $count]);
        return ['next' => $next, 'entries' => entries($list)];
    },
];

function answer(array $reply): void {
    fwrite(STDOUT, json_encode($reply, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR) . "\n");
    fflush(STDOUT);
}

raw(['PING']);
answer(['ok' => 'ready']);
while (($line = fgets(STDIN)) !== false) {
    $request = json_decode($line, true, 512, JSON_THROW_ON_ERROR);
    try {
        answer(['ok' => $ops[$request['op']](...$request['args'])]);
    } catch (ReplyError $e) {
        answer(['error' => $e->getMessage()]);
    }
}
