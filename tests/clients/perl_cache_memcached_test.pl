#!/usr/bin/perl
# Debian's libcache-memcached-perl (Cache::Memcached 1.30, ASCII protocol)
# against the server on 127.0.0.1:$PORT (run it under with_server.sh).
#
# What this client sends that others do not: get_multi ends its `get` line
# with a space before CRLF, and stats() sends `stats` then `stats malloc`
# (memcached answers ERROR to the latter; the client accepts that). Every
# expectation was verified against memcached 1.6.18:
#   MEMKV_TEST_TARGET=memcached bash tests/clients/with_server.sh \
#       perl tests/clients/perl_cache_memcached_test.pl
# Exits 0 only if every check passed.
use strict;
use warnings;
use Cache::Memcached;
use IO::Socket::INET;

my $port = $ENV{PORT} or die "PORT is not set; run this under with_server.sh\n";
my $failures = 0;

sub check {
    my ($name, $got, $want) = @_;
    my $g = defined $got ? $got : '(undef)';
    my $w = defined $want ? $want : '(undef)';
    if ($g eq $w) {
        print "ok   $name\n";
    } else {
        $failures++;
        print "FAIL $name: got '$g', want '$w'\n";
    }
}

# Bounded: each socket wait gives up after 5 s (the client marks the host dead then,
# and later calls fail fast).
my $mc = Cache::Memcached->new({
    servers => ["127.0.0.1:$port"],
    connect_timeout => 5,
    select_timeout => 5,
});

# set + get_multi of 1,200 keys (one `get k1 ... k1200 \r\n` line, trailing space).
my %want = map { (sprintf('multi:%05d', $_) => ("v$_-" x (1 + $_ % 13))) } 0 .. 1199;
my $stored = 0;
$stored += $mc->set($_, $want{$_}) ? 1 : 0 for sort keys %want;
check('1,200 sets', $stored, 1200);
my $got = $mc->get_multi(keys %want, 'multi:absent-1', 'multi:absent-2');
check('get_multi returns exactly the stored keys', scalar(keys %$got), 1200);
my $same = grep { defined $got->{$_} && $got->{$_} eq $want{$_} } keys %want;
check('get_multi values all match', $same, 1200);
check('get (a one-key get_multi)', $mc->get('multi:00042'), $want{'multi:00042'});
check('get of a missing key', $mc->get('absent'), undef);

# Values are opaque bytes: protocol text inside a value, every byte value, and
# a 250-byte key.
my %tricky = ('bin:crlf' => "a\r\nEND\r\nVALUE x 0 1\r\nb\r\n",
              'bin:all-bytes' => join('', map { chr } 0 .. 255) x 4,
              ('k' x 250) => 'longest key');
$mc->set($_, $tricky{$_}) for keys %tricky;
my $tg = $mc->get_multi(keys %tricky);
check('binary-safe values via get_multi',
      scalar(grep { defined $tg->{$_} && $tg->{$_} eq $tricky{$_} } keys %tricky), 3);

# References are Storable-frozen with flag 1: the flags must round-trip.
$mc->set('ref:k', { a => [1, 2, 3], b => 'x' });
my $ref = $mc->get('ref:k');
check('reference round-trip', ref($ref) eq 'HASH' ? join(',', @{ $ref->{a} }, $ref->{b}) : 'not a hash', '1,2,3,x');

# add / replace / append / prepend.
$mc->delete('st:k');
check('add new', $mc->add('st:k', 'mid'), 1);
check('add existing', $mc->add('st:k', 'other'), '');
check('replace existing', $mc->replace('st:k', 'MID'), 1);
check('replace missing', $mc->replace('st:absent', 'x'), '');
check('append', $mc->append('st:k', '>>'), 1);
check('prepend', $mc->prepend('st:k', '<<'), 1);
check('value after append+prepend', $mc->get('st:k'), '<<MID>>');
check('append missing', $mc->append('st:absent', 'x'), '');

# incr / decr (the client reads the leading digits of the reply).
$mc->set('ctr', '10');
check('incr', $mc->incr('ctr', 5), 15);
check('incr by default 1', $mc->incr('ctr'), 16);
check('decr', $mc->decr('ctr', 4), 12);
check('decr floors at 0', $mc->decr('ctr', 100), 0);
$mc->set('ctr', '18446744073709551615');
check('incr wraps at 2^64', $mc->incr('ctr', 2), 1);
check('incr missing', $mc->incr('ctr:absent', 1), undef);
check('decr missing', $mc->decr('ctr:absent', 1), undef);
$mc->set('ctr:text', 'abc');
check('incr non-numeric (CLIENT_ERROR)', $mc->incr('ctr:text', 1), undef);
check('connection in sync after CLIENT_ERROR', $mc->get('ctr:text'), 'abc');

# delete.
check('delete existing', $mc->delete('st:k'), 1);
check('delete missing', $mc->delete('st:k'), '');
check('get after delete', $mc->get('st:k'), undef);

# Large values: 1 MiB minus memcached's item overhead (48 + 8 + key + 1 + 2)
# stores; 1 MiB + 1 is refused and drops the old value.
my $key = 'large:value';
my $big = substr(join('', map { chr } 0 .. 250) x 4200, 0, 1048576 - 48 - 8 - length($key) - 1 - 2);
check('set 1 MiB minus overhead', $mc->set($key, $big), 1);
my $back = $mc->get($key);
check('get 1 MiB minus overhead', defined $back && $back eq $big ? 'same' : 'differs', 'same');
$mc->set('large:old', 'old');
check('set 1 MiB + 1 fails', $mc->set('large:old', 'z' x 1048577), '');
check('connection works after too large', $mc->get('multi:00007'), $want{'multi:00007'});
check('too large set dropped the old value', $mc->get('large:old'), undef);

# stats: `stats` then `stats malloc` (ERROR accepted), totals summed by the client.
$mc->set('stats:k', 'v');
my $s1 = $mc->stats();
$mc->get('stats:k') for 1 .. 3;
$mc->get('stats:absent');
my $s2 = $mc->stats();
my $misc = $s2->{hosts}{"127.0.0.1:$port"}{misc} || {};
for my $name (qw(pid uptime version curr_items total_items cmd_get cmd_set get_hits get_misses
                 bytes bytes_read bytes_written curr_connections total_connections)) {
    check("stats has $name", exists $misc->{$name} ? 1 : 0, 1);
}
check('total get_hits delta', $s2->{total}{get_hits} - $s1->{total}{get_hits}, 3);
check('total get_misses delta', $s2->{total}{get_misses} - $s1->{total}{get_misses}, 1);
check('version is 1.6.x', ($misc->{version} // '') =~ /^1\.6\.\d+$/ ? 1 : 0, 1);
check('connection in sync after stats malloc', $mc->get('stats:k'), 'v');

# What `stats malloc` gets on the wire, read directly (the client hides it).
my $raw = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 5)
    or die "connect: $!";
$raw->timeout(5);
print $raw "stats malloc\r\n";
my $line = <$raw>;
check('stats malloc is an unknown group', $line, "ERROR\r\n");
close $raw;

# flush_all.
check('flush_all', $mc->flush_all(), 1);
my $after = $mc->get_multi(map { sprintf('multi:%05d', $_) } 0 .. 99);
check('get_multi after flush_all', scalar(keys %$after), 0);
check('set after flush_all', $mc->set('after:flush', 'x'), 1);
check('get after flush_all + set', $mc->get('after:flush'), 'x');

$mc->disconnect_all;
print "perl_cache_memcached_test: $failures failure(s)\n";
exit($failures == 0 ? 0 : 1);
