#!/usr/bin/perl
# Drives one Redis::Fast connection (Debian's libredis-fast-perl) for test/clients/redis-fast.test.ts.
#
# Usage: perl redis_fast_bridge.pl PORT GROUP CONSUMER. Reads one JSON request per line on
# stdin, {"op": ..., "args": [...]}, runs it and prints one JSON line back: {"ok": result} or
# {"error": message}. Redis::Fast sends any method name as a command (xreadgroup, xnack,
# ezra), as a Perl user calls it; the replies are RESP2's nested arrays.
use strict;
use warnings;
use JSON::PP;
use Redis::Fast;

my ($port, $group, $consumer) = @ARGV;
# Bytes in, bytes out: JSON without ->utf8 keeps each byte one character, so UTF-8 payloads
# reach the server and come back unchanged.
binmode STDIN, ':raw';
binmode STDOUT, ':raw';
$| = 1;
my $json = JSON::PP->new->canonical;
# No reconnect: a test that kills the server must see the failure, not a silent retry.
my $r = Redis::Fast->new(server => "127.0.0.1:$port", reconnect => 0);

sub pairs {
    my @flat = @_;
    my @pairs;
    push @pairs, [splice(@flat, 0, 2)] while @flat;
    return \@pairs;
}
sub entries { my ($list) = @_; return [map { { id => $_->[0], fields => pairs(@{ $_->[1] }) } } @$list] }

my %ops = (
    push => sub { my ($queue, $fields) = @_; return $r->xadd($queue, '*', map { @$_ } @$fields) },
    pop => sub {
        my ($queue, $count, $block) = @_;
        my @options = ((defined $count ? (COUNT => $count) : ()), (defined $block ? (BLOCK => $block) : ()));
        my $reply = $r->xreadgroup('GROUP', $group, $consumer, @options, 'STREAMS', $queue, '>');
        return undef unless defined $reply; # nothing to claim, or BLOCK timed out
        return [map { @{ entries($_->[1]) } } @$reply];
    },
    ack => sub { my ($queue, $ids) = @_; return 0 + $r->xack($queue, $group, @$ids) },
    nack => sub { my ($queue, $id, $reason) = @_; return $r->xnack($queue, $group, $id, 'REASON', $reason) },
    length => sub { return 0 + $r->xlen($_[0]) },
    configure => sub { my ($queue, $settings) = @_; return $r->ezra('CONFIG', 'SET', $queue, %$settings) },
    blocked_clients => sub { return 0 + $r->info('clients')->{blocked_clients} },
    client_info => sub { return $r->client_info },
    pending => sub {
        my ($count, $first, $last, $consumers) = @{ $r->xpending($_[0], $group) };
        # Redis sends each consumer's count as a bulk string.
        return { count => 0 + $count, first => $first, last => $last, consumers => [map { [$_->[0], 0 + $_->[1]] } @{ $consumers // [] }] };
    },
    pending_range => sub {
        return [map { { id => $_->[0], consumer => $_->[1], deliveries => 0 + $_->[3] } } @{ $r->xpending($_[0], $group, '-', '+', 100) }];
    },
    autoclaim => sub {
        my ($queue, $min_idle, $start, $count) = @_;
        my ($next, $list) = @{ $r->xautoclaim($queue, $group, $consumer, $min_idle, $start, 'COUNT', $count) };
        return { next => $next, entries => entries($list) };
    },
);

$r->ping;
print $json->encode({ ok => 'ready' }), "\n";
while (my $line = <STDIN>) {
    my $request = $json->decode($line);
    my $result = eval { { ok => $ops{ $request->{op} }->(@{ $request->{args} }) } };
    unless ($result) {
        # Redis::Fast dies with "[command] <server's error>, at <file> line <n>."
        (my $message = $@) =~ s/^\[[^\]]*\] (.*?),\s+at \S+ line \d+.*\z/$1/s;
        $result = { error => $message };
    }
    print $json->encode($result), "\n";
}
