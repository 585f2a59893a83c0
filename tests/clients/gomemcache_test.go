// Debian's golang-github-bradfitz-gomemcache-dev (a 2014 snapshot, ASCII
// protocol) built with Debian's golang-go in GOPATH mode, against the server
// on 127.0.0.1:$PORT. Run it through gomemcache_test.sh under with_server.sh.
//
// What this client relies on: Get and GetMulti always send `gets`, and VALUE
// lines are parsed with Sscanf after counting spaces (exactly 3 or 4 single
// spaces); incr/decr replies go through ParseUint (no padding allowed). Every
// expectation was verified against memcached 1.6.18:
//
//	MEMKV_TEST_TARGET=memcached bash tests/clients/with_server.sh \
//	    bash tests/clients/gomemcache_test.sh
package main

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

var failures int

func check(name string, got, want interface{}) {
	if fmt.Sprintf("%#v", got) == fmt.Sprintf("%#v", want) {
		fmt.Printf("ok   %s\n", name)
		return
	}
	failures++
	fmt.Printf("FAIL %s: got %#v, want %#v\n", name, got, want)
}

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func value(mc *memcache.Client, key string) string {
	it, err := mc.Get(key)
	if err != nil {
		return "error: " + errText(err)
	}
	return string(it.Value)
}

const mib = 1024 * 1024

func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func run(mc *memcache.Client) {
	// Set + GetMulti of 1,200 keys (one `gets k1 ... k1200` line), values distinct.
	keys := make([]string, 0, 1202)
	want := map[string]string{}
	stored := 0
	for i := 0; i < 1200; i++ {
		k := fmt.Sprintf("multi:%05d", i)
		v := strings.Repeat(fmt.Sprintf("v%d-", i), 1+i%13)
		keys = append(keys, k)
		want[k] = v
		if mc.Set(&memcache.Item{Key: k, Value: []byte(v), Flags: uint32(i)}) == nil {
			stored++
		}
	}
	check("1,200 sets", stored, 1200)
	got, err := mc.GetMulti(append(keys, "multi:absent-1", "multi:absent-2"))
	check("GetMulti error", errText(err), "<nil>")
	check("GetMulti returns exactly the stored keys", len(got), 1200)
	same, flagsOK := 0, 0
	for i, k := range keys {
		if it, ok := got[k]; ok && string(it.Value) == want[k] {
			same++
			if it.Flags == uint32(i) {
				flagsOK++
			}
		}
	}
	check("GetMulti values all match", same, 1200)
	check("GetMulti flags all match", flagsOK, 1200)

	// Get (sent as gets) and misses.
	it, err := mc.Get("multi:00042")
	check("Get value", err == nil && string(it.Value) == want["multi:00042"], true)
	_, err = mc.Get("absent")
	check("Get of a missing key is ErrCacheMiss", err, memcache.ErrCacheMiss)
	mc.Set(&memcache.Item{Key: "flags:max", Value: []byte("f"), Flags: 0xFFFFFFFF})
	it, err = mc.Get("flags:max")
	check("32-bit flags round-trip", err == nil && it.Flags == 0xFFFFFFFF, true)
	mc.Set(&memcache.Item{Key: "empty", Value: []byte{}})
	it, err = mc.Get("empty")
	check("empty value", err == nil && len(it.Value) == 0, true)

	// Values are opaque bytes: protocol text inside a value, every byte value, and
	// a 250-byte key.
	tricky := map[string][]byte{
		"bin:crlf":               []byte("a\r\nEND\r\nVALUE x 0 1 2\r\nb\r\n"),
		"bin:all-bytes":          bytes.Repeat(allBytes(), 4),
		strings.Repeat("k", 250): []byte("longest key"),
	}
	trickyKeys := []string{}
	for k, v := range tricky {
		mc.Set(&memcache.Item{Key: k, Value: v})
		trickyKeys = append(trickyKeys, k)
	}
	got, err = mc.GetMulti(trickyKeys)
	sameTricky := 0
	for k, v := range tricky {
		if it, ok := got[k]; ok && bytes.Equal(it.Value, v) {
			sameTricky++
		}
	}
	check("binary-safe values via GetMulti", fmt.Sprint(sameTricky, " ", errText(err)), "3 <nil>")
	check("value with protocol text via Get", value(mc, "bin:crlf"), string(tricky["bin:crlf"]))

	// Add / Replace.
	mc.Delete("st:k")
	check("Add new", mc.Add(&memcache.Item{Key: "st:k", Value: []byte("mid")}), nil)
	check("Add existing is ErrNotStored", mc.Add(&memcache.Item{Key: "st:k", Value: []byte("x")}), memcache.ErrNotStored)
	check("Replace existing", mc.Replace(&memcache.Item{Key: "st:k", Value: []byte("MID")}), nil)
	check("Replace missing is ErrNotStored", mc.Replace(&memcache.Item{Key: "st:absent", Value: []byte("x")}), memcache.ErrNotStored)
	check("value after Add+Replace", value(mc, "st:k"), "MID")

	// CompareAndSwap: success, conflict (EXISTS), missing (NOT_FOUND).
	mc.Set(&memcache.Item{Key: "cas:k", Value: []byte("one")})
	first, err := mc.Get("cas:k")
	check("Get for cas", errText(err), "<nil>")
	stale := *first
	first.Value = []byte("two")
	check("CompareAndSwap with the current cas", mc.CompareAndSwap(first), nil)
	stale.Value = []byte("three")
	check("CompareAndSwap with a stale cas is ErrCASConflict", mc.CompareAndSwap(&stale), memcache.ErrCASConflict)
	check("value after the conflict", value(mc, "cas:k"), "two")
	mc.Delete("cas:k")
	check("CompareAndSwap of a deleted key is ErrCacheMiss", mc.CompareAndSwap(first), memcache.ErrCacheMiss)

	// Delete.
	check("Delete existing", mc.Delete("st:k"), nil)
	check("Delete missing is ErrCacheMiss", mc.Delete("st:k"), memcache.ErrCacheMiss)

	// Increment / Decrement: wrap at 2^64, floor at 0, and after a shrinking decr
	// (memcached pads the stored value with spaces) the reply itself is unpadded.
	mc.Set(&memcache.Item{Key: "ctr", Value: []byte("10")})
	n, err := mc.Increment("ctr", 5)
	check("Increment", fmt.Sprint(n, " ", errText(err)), "15 <nil>")
	n, err = mc.Decrement("ctr", 3)
	check("Decrement", fmt.Sprint(n, " ", errText(err)), "12 <nil>")
	n, err = mc.Decrement("ctr", 100)
	check("Decrement floors at 0", fmt.Sprint(n, " ", errText(err)), "0 <nil>")
	n, err = mc.Increment("ctr", 7)
	check("Increment after the floor", fmt.Sprint(n, " ", errText(err)), "7 <nil>")
	mc.Set(&memcache.Item{Key: "ctr", Value: []byte("18446744073709551615")})
	n, err = mc.Increment("ctr", 2)
	check("Increment wraps at 2^64", fmt.Sprint(n, " ", errText(err)), "1 <nil>")
	_, err = mc.Increment("ctr:absent", 1)
	check("Increment missing is ErrCacheMiss", err, memcache.ErrCacheMiss)
	_, err = mc.Decrement("ctr:absent", 1)
	check("Decrement missing is ErrCacheMiss", err, memcache.ErrCacheMiss)
	mc.Set(&memcache.Item{Key: "ctr:text", Value: []byte("abc")})
	_, err = mc.Increment("ctr:text", 1)
	check("Increment non-numeric", errText(err), "memcache: client error: cannot increment or decrement non-numeric value")
	check("Get after the client error", value(mc, "ctr:text"), "abc")

	// Touch: TOUCHED / NOT_FOUND, and the new expiry takes effect.
	mc.Set(&memcache.Item{Key: "touch:k", Value: []byte("t")})
	check("Touch existing", mc.Touch("touch:k", 1), nil)
	check("Touch missing is ErrCacheMiss", mc.Touch("touch:absent", 100), memcache.ErrCacheMiss)
	deadline := time.Now().Add(5 * time.Second)
	for value(mc, "touch:k") == "t" && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	_, err = mc.Get("touch:k")
	check("touched key expires within 5 s", err, memcache.ErrCacheMiss)

	// Large values: 1 MiB minus memcached's item overhead (48 + 8 + key + 1 + 2)
	// stores; 1 MiB + 1 gets SERVER_ERROR, which this client reports as an
	// unexpected line (it closes that connection; the next call dials anew).
	key := "large:value"
	big := make([]byte, mib-48-8-len(key)-1-2)
	for i := range big {
		big[i] = byte((i*7 + 3) % 251)
	}
	check("Set 1 MiB minus overhead", mc.Set(&memcache.Item{Key: key, Value: big}), nil)
	it, err = mc.Get(key)
	check("Get 1 MiB minus overhead", err == nil && bytes.Equal(it.Value, big), true)
	mc.Set(&memcache.Item{Key: "large:old", Value: []byte("old")})
	err = mc.Set(&memcache.Item{Key: "large:old", Value: make([]byte, mib+1)})
	check("Set 1 MiB + 1 fails", errText(err), `memcache: unexpected response line from "set": "SERVER_ERROR object too large for cache\r\n"`)
	it, err = mc.Get(key)
	check("Get works after the refused Set", err == nil && bytes.Equal(it.Value, big), true)
	_, err = mc.Get("large:old")
	check("refused Set dropped the old value", err, memcache.ErrCacheMiss)

	// FlushAll and DeleteAll (both send flush_all).
	check("FlushAll", mc.FlushAll(), nil)
	got, err = mc.GetMulti(keys[:100])
	check("GetMulti after FlushAll", fmt.Sprint(len(got), " ", errText(err)), "0 <nil>")
	check("Set after FlushAll", mc.Set(&memcache.Item{Key: "after", Value: []byte("x")}), nil)
	check("Get after FlushAll+Set", value(mc, "after"), "x")
	check("DeleteAll", mc.DeleteAll(), nil)
	_, err = mc.Get("after")
	check("Get after DeleteAll", err, memcache.ErrCacheMiss)
}

func main() {
	port := os.Getenv("PORT")
	if !regexp.MustCompile(`^[0-9]+$`).MatchString(port) {
		fmt.Println("PORT is not set; run this under with_server.sh")
		os.Exit(2)
	}
	mc := memcache.New("127.0.0.1:" + port)
	// The default 100 ms is too tight for 1 MiB on a loaded machine; still bounded.
	mc.Timeout = 10 * time.Second
	run(mc)
	fmt.Printf("gomemcache_test: %d failure(s)\n", failures)
	if failures > 0 {
		os.Exit(1)
	}
}
