# Debian's ruby-dalli (3.0.6, binary protocol only) against the server on
# 127.0.0.1:$PORT (run it under with_server.sh). Every expectation was
# verified against memcached 1.6.18:
#   MEMKV_TEST_TARGET=memcached bash tests/clients/with_server.sh \
#       ruby tests/clients/dalli_test.rb
# Exits 0 only if every check passed.
require 'dalli'
require 'logger'

port = ENV.fetch('PORT') { abort 'PORT is not set; run this under with_server.sh' }
MIB = 1024 * 1024
$failures = 0

def check(name, got, want)
  if got == want
    puts "ok   #{name}"
  else
    $failures += 1
    puts "FAIL #{name}: got #{got.inspect}, want #{want.inspect}"
  end
end

def error_of
  yield
  'no error'
rescue StandardError => e
  "#{e.class}: #{e.message}"
end

Dalli.logger = Logger.new($stderr, level: Logger::ERROR)
# Bounded: every socket wait gives up after 5 s. value_max_bytes is raised so
# that an oversized value reaches the server (Dalli refuses > 1 MiB itself).
dc = Dalli::Client.new("127.0.0.1:#{port}",
                       socket_timeout: 5, socket_max_failures: 1, compress: false,
                       value_max_bytes: 2 * MIB)

# set + get_multi of 1,200 keys (quiet getkq pipeline ended by noop).
want = (0...1200).to_h { |i| [format('multi:%05d', i), "v#{i}-" * (1 + i % 13)] }
check('1,200 sets', want.count { |k, v| dc.set(k, v, nil, raw: true) }, 1200)
got = dc.get_multi(*want.keys, 'multi:absent-1', 'multi:absent-2')
check('get_multi returns exactly the stored keys', got.keys.sort, want.keys.sort)
check('get_multi values all match', want.count { |k, v| got[k] == v }, 1200)
check('get', dc.get('multi:00042'), want['multi:00042'])
check('get of a missing key', dc.get('absent'), nil)

# Marshalled Ruby objects: the flags word says "serialized", so it must round-trip.
obj = { 'a' => [1, 2, 3], :b => 'x', 'c' => 4.5 }
dc.set('obj:k', obj)
check('object round-trip', dc.get('obj:k'), obj)
dc.set('int:k', 12_345)
check('integer round-trip', dc.get('int:k'), 12_345)

# add / replace / append / prepend.
dc.delete('st:k')
check('add new is truthy', !!dc.add('st:k', 'mid', nil, raw: true), true)
check('add existing is falsy', !!dc.add('st:k', 'other', nil, raw: true), false)
check('replace existing is truthy', !!dc.replace('st:k', 'MID', nil, raw: true), true)
# Dalli 3.0.6 returns the reply's cas for a store: the new cas on success, 0 for
# KEY_ENOENT (a missing key to replace; 0 is truthy in Ruby), false for NOT_STORED.
check('replace missing returns cas 0', dc.replace('st:absent', 'x', nil, raw: true), 0)
check('append', !!dc.append('st:k', '>>'), true)
check('prepend', !!dc.prepend('st:k', '<<'), true)
check('value after append+prepend', dc.get('st:k', raw: true), '<<MID>>')
check('append missing is falsy', !!dc.append('st:absent', 'x'), false)

# cas: the block form, get_cas/set_cas, and a conflict.
dc.set('cas:k', 'one', nil, raw: true)
# Dalli 3.0.6 unpacks the 8-byte cas in native byte order (it sends it back the
# same way), so only its truthiness is checked.
check('cas block updates', dc.cas('cas:k', nil, raw: true) { |v| v + '+two' }.is_a?(Integer), true)
check('value after cas', dc.get('cas:k', raw: true), 'one+two')
check('cas on a missing key is nil', dc.cas('cas:absent') { |v| v }, nil)
value, token = dc.get_cas('cas:k')
check('get_cas value', value, 'one+two')
check('get_cas token is a positive integer', token.is_a?(Integer) && token.positive?, true)
check('set_cas with the current token', !!dc.set_cas('cas:k', 'three', token, nil, raw: true), true)
check('set_cas with a stale token is falsy', !!dc.set_cas('cas:k', 'four', token, nil, raw: true), false)
check('value after stale set_cas', dc.get('cas:k', raw: true), 'three')
multi = dc.get_multi_cas('cas:k', 'multi:00001')
check('get_multi_cas carries cas', multi['cas:k'][1].is_a?(Integer) && multi['cas:k'][1].positive?, true)

# incr / decr: binary counters, with and without an initial value.
dc.set('ctr', '10', nil, raw: true)
check('incr', dc.incr('ctr', 5), 15)
check('decr', dc.decr('ctr', 3), 12)
check('decr floors at 0', dc.decr('ctr', 100), 0)
dc.set('ctr', '18446744073709551615', nil, raw: true)
check('incr wraps at 2^64', dc.incr('ctr', 2), 1)
check('incr missing without default is nil', dc.incr('ctr:absent', 1), nil)
check('incr missing with default creates it', dc.incr('ctr:new', 1, nil, 42), 42)
check('incr after create', dc.incr('ctr:new', 1), 43)
check('counter readable as text', dc.get('ctr:new', raw: true), '43')
dc.set('ctr:text', 'abc', nil, raw: true)
check('incr non-numeric raises', error_of { dc.incr('ctr:text', 1) },
      'Dalli::DalliError: Response error 6: Incr/decr on a non-numeric value')
check('connection works after the error', dc.get('ctr:text', raw: true), 'abc')

# delete, touch.
check('delete existing', dc.delete('st:k'), true)
check('delete missing is nil', dc.delete('st:k'), nil)
dc.set('touch:k', 't', nil, raw: true)
check('touch existing', dc.touch('touch:k', 100), true)
check('touch missing', dc.touch('touch:absent', 100), nil)

# Large values: 1 MiB minus memcached's item overhead (48 + 8 + key + 1 + 2)
# stores; 1 MiB + 1 is refused with status 3 (E2BIG) and drops the old value.
key = 'large:value'
big = (0...251).map(&:chr).join.b * 4200
big = big[0, MIB - 48 - 8 - key.bytesize - 1 - 2]
check('set 1 MiB minus overhead', !!dc.set(key, big, nil, raw: true), true)
check('get 1 MiB minus overhead', dc.get(key, raw: true) == big, true)
dc.set('large:old', 'old', nil, raw: true)
check('set 1 MiB + 1 raises', error_of { dc.set('large:old', 'z' * (MIB + 1), nil, raw: true) },
      'Dalli::DalliError: Response error 3: Value too large')
check('connection works after too large', dc.get(key, raw: true) == big, true)
check('too large set dropped the old value', dc.get('large:old'), nil)

# stats, version, flush.
s = dc.stats.values.first || {}
%w[pid uptime curr_items total_items cmd_get cmd_set get_hits get_misses].each do |name|
  check("stats has #{name}", s.key?(name), true)
end
check('version is 1.6.x', dc.version.values.first.to_s.match?(/\A1\.6\.\d+\z/), true)
check('flush', dc.flush.all? { |r| r }, true)
check('get_multi after flush', dc.get_multi(*want.keys.first(100)), {})
check('set after flush', !!dc.set('after', 'x', nil, raw: true), true)
check('get after flush+set', dc.get('after', raw: true), 'x')

dc.close
puts "dalli_test: #{$failures} failure(s)"
exit($failures.zero? ? 0 : 1)
