#!/usr/bin/env bash
# memkv against Debian's memcached, side by side, on one fixed suite.
#
#   bench/run.sh --suite quick|full [--rounds N] [--duration S] [--only REGEX]
#
# --only runs just the workloads whose label matches REGEX (bash =~), for
# example --only '^\(f3\)', --only '^\(t-' for the text-protocol rows or
# --only '^\(tls-' for the TLS rows, --only '^\((h2|h3)\)' for the scan-pollution
# and value-size-shift rows, --only '^\(dcp-' for the DCP rows; it never
# rewrites bench/RESULTS.md.
#
# Both servers get the same -t/-m/-c/-I, listen on 127.0.0.1 ephemeral ports,
# and are pinned away from the client when there are cores enough. Throughput
# workloads alternate the servers round by round (A B A B ...) so drift on a
# shared machine hits both alike; the table shows medians, and ratios are the
# median of the per-round ratios (memkv / memcached). Server CPU comes from
# /proc/PID/stat around each round. The full suite rewrites bench/RESULTS.md.
# The (tls-*) rows start both servers with -Z and certificates that
# tests/tls/make_certs.sh makes in the work directory; a server that cannot
# start that way (memkv before its TLS) gets empty columns and a line under
# the table instead of ending the suite.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MEMKV_BUILD_DIR:-$ROOT/build/release}
MEMKV=$BUILD/memkv
BENCH=$BUILD/memkv-bench
MEMCACHED=${MEMCACHED:-/usr/bin/memcached}
ADMIN=$BUILD/memkv-admin

suite=quick
rounds=""
duration=""
only=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --suite) suite=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
# The TLS rows run fewer, shorter rounds in the full suite (about 2.5 minutes
# for all of them) unless --rounds/--duration say otherwise.
case $suite in
  quick) tls_rounds=${rounds:-2}; tls_duration=${duration:-2}
    h2_rounds=${rounds:-1}; h2_warm=4; h2_seconds=8
    h3_rounds=${rounds:-1}; h3_shift=10; h3_after=30; h3_interval=10
    dcp_rounds=${rounds:-1}
    rounds=${rounds:-2}; duration=${duration:-2}; warmup=0.5; hit_seconds=4 ;;
  full) tls_rounds=${rounds:-3}; tls_duration=${duration:-3}
    h2_rounds=${rounds:-3}; h2_warm=6; h2_seconds=15
    h3_rounds=${rounds:-2}; h3_shift=10; h3_after=60; h3_interval=10
    dcp_rounds=${rounds:-3}
    rounds=${rounds:-5}; duration=${duration:-5}; warmup=2; hit_seconds=10 ;;
  *) echo "run.sh: --suite must be quick or full" >&2; exit 2 ;;
esac

for bin in "$MEMKV" "$BENCH" "$MEMCACHED" "$ADMIN"; do
  [[ -x $bin ]] || { echo "run.sh: missing $bin (run: make release)" >&2; exit 1; }
done

# 10,000 idle connections need descriptors on both ends.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [[ $(ulimit -n) != unlimited && $(ulimit -n) -lt 12000 ]]; then
  echo "run.sh: need at least 12000 file descriptors, have $(ulimit -n)" >&2
  exit 1
fi

# --- placement -------------------------------------------------------------
cores=$(nproc)
if (( cores >= 4 )); then
  server_cpus="0-$((cores / 2 - 1))"; client_cpus="$((cores / 2))-$((cores - 1))"
  server_threads=$((cores / 2)); client_threads=$((cores / 2))
elif (( cores >= 2 )); then
  server_cpus=0; client_cpus=1; server_threads=1; client_threads=1
else
  server_cpus=""; client_cpus=""; server_threads=1; client_threads=1
fi
server_threads=${SERVER_THREADS:-$server_threads}
pin_server=(); pin_client=()
if [[ -n $server_cpus ]]; then
  pin_server=(taskset -c "$server_cpus"); pin_client=(taskset -c "$client_cpus")
fi

work=$(mktemp -d /tmp/memkv-bench.XXXXXX)
server_pids=()
holder_pid=""
cleanup() {
  local pid
  if [[ -n $holder_pid ]]; then kill "$holder_pid" 2>/dev/null || true; fi
  for pid in "${server_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${server_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "[bench] $*" >&2; }
# selected LABEL: whether --only lets this workload run.
selected() { [[ -z $only || $1 =~ $only ]]; }
clk_tck=$(getconf CLK_TCK)

# --- server lifecycle ------------------------------------------------------
# start_server NAME ARGS...: starts memkv or memcached with the shared args
# and sets PID and PORT. Bounded: 50 tries of 0.1 s to come up. A server
# that does not come up ends the suite, unless start_may_fail=1: then the
# call returns 1 (the log is in $work/NAME.log).
start_may_fail=0
start_server() {
  local name=$1; shift
  local port=""
  if [[ $name == memkv ]]; then
    rm -f "$work/memkv.port"
    "${pin_server[@]}" "$MEMKV" -l 127.0.0.1 -p 0 --port-file "$work/memkv.port" "$@" \
      >"$work/memkv.log" 2>&1 &
    PID=$!
    server_pids+=("$PID")
    for _ in $(seq 50); do
      [[ -s $work/memkv.port ]] && break
      kill -0 "$PID" 2>/dev/null || break
      sleep 0.1
    done
    port=$(cat "$work/memkv.port" 2>/dev/null || true)
  else
    # memcached has no port file: pick a free port below the ephemeral range
    # (the held-connection workloads use thousands of those), and retry on a
    # new one if the server dies instead of accepting (someone took it first).
    for _ in $(seq 8); do
      port=$((20000 + RANDOM % 12000))
      [[ -z $(ss -Htan "sport = :$port" 2>/dev/null) ]] || continue
      "${pin_server[@]}" "$MEMCACHED" -u root -U 0 -l 127.0.0.1 -p "$port" "$@" \
        >"$work/memcached.log" 2>&1 &
      PID=$!
      server_pids+=("$PID")
      local alive=1
      for _ in $(seq 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        kill -0 "$PID" 2>/dev/null || { alive=0; break; }
        sleep 0.1
      done
      [[ $alive == 1 ]] && break
    done
  fi
  for _ in $(seq 50); do
    [[ -n $port ]] || break
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && { PORT=$port; return 0; }
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  if [[ $start_may_fail == 1 ]]; then
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    return 1
  fi
  echo "run.sh: $name did not start; log:" >&2
  cat "$work/$name.log" >&2
  exit 1
}

# start_or_note LABEL NAME ARGS...: start_server; when start_may_fail=1 and
# the server does not come up, notes why under the table and returns 1.
start_or_note() {
  local label=$1 name=$2
  shift 2
  start_server "$name" "$@" && return 0
  problems+=("$label: $name did not start with these flags; its columns are empty ($(tail -1 "$work/$name.log" 2>/dev/null | cut -c1-160))")
  return 1
}

stop_server() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
ticks_of() { local t=0 p; for p in "$@"; do t=$((t + $(cpu_ticks "$p"))); done; echo "$t"; }  # summed

# bench ARGS...: memkv-bench on the client cores; a non-zero exit (verify
# failure, lost connection) is recorded, not fatal, so the table still prints.
problems=()
bench() {
  "${pin_client[@]}" "$BENCH" --threads "$client_threads" "$@" || problems+=("memkv-bench $* exited $?")
}

median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
jqf() { jq -r "$1" "$2"; }
note_errors() {  # note_errors SERVER FILE: error statuses or replies in a result are worth a line
  local errors replies
  errors=$(jq -c '.errors_by_status // {}' "$2" 2>/dev/null || echo '"no result"')
  replies=$(jq -c '.errors_by_reply // {}' "$2" 2>/dev/null || echo '{}')
  [[ $errors == "{}" ]] || problems+=("$1: error statuses $errors ($(basename "$2"))")
  [[ $replies == "{}" ]] || problems+=("$1: error replies $replies ($(basename "$2"))")
}

rows=()
notes=()  # lines printed under the table
row() { rows+=("$(printf '| %s ' "$@")|"); }
fmt() { awk -v v="$1" -v f="$2" 'BEGIN {if (v == "nan" || v == "") print "-"; else printf f, v}'; }

# --- throughput workloads --------------------------------------------------
# speaks_text PORT: whether the server answers the text command "version"
# (bounded: 2 s). memkv answers only MCBP until its text session lands.
speaks_text() {
  local reply
  reply=$(timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"; printf "version\r\n" >&3; head -c 8 <&3' \
    _ "$1" 2>/dev/null || true)
  [[ $reply == VERSION* ]]
}

# round_tsv TICKS FILE: one measured round (memkv-bench --json in FILE, the
# server CPU ticks it took) as a line of a .rounds file: ops/s, server CPU
# us/op, p99, hit ratio, hits/s, requests/s.
round_tsv() {
  jq -r --argjson ticks "$1" --argjson hz "$clk_tck" \
    '[.ops_per_sec, (if .ops > 0 then $ticks * 1e6 / $hz / .ops else 0 end), .latency_us.p99, .hit_ratio, (if .window_s > 0 then .hits / .window_s else 0 end), .requests_per_sec] | @tsv' \
    "$2"
}

# throughput LABEL "SERVER ARGS" "CLIENT ARGS" CONNS: fresh servers, prefill,
# one unmeasured warmup each, then `rounds` alternating measured rounds. A
# server that does not speak the client's --protocol text is skipped (its
# columns show "-") and listed under the table.
throughput() {
  local label=$1 server_args=$2 client_args=$3
  local conns=$4 r name
  local per_thread=$(((conns + client_threads - 1) / client_threads))
  # --handshakes rows have nothing to prefill; their ops are handshake cycles.
  local prefill=--prefill handshakes=0
  [[ " $client_args " == *" --handshakes "* ]] && { prefill=""; handshakes=1; }
  selected "$label" || return 0
  log "$label"
  declare -A pid port skip
  for name in memkv memcached; do
    : >"$work/$name.rounds"
    # shellcheck disable=SC2086
    if ! start_or_note "$label" "$name" $server_args; then
      pid[$name]=""; skip[$name]=1
      continue
    fi
    pid[$name]=$PID; port[$name]=$PORT; skip[$name]=0
    if [[ " $client_args " == *" --protocol text "* ]] && ! speaks_text "$PORT"; then
      skip[$name]=1
      problems+=("$label: $name does not speak the text protocol (no VERSION reply to \"version\"); its columns are empty")
      continue
    fi
    # The warmup also prefills: bounded, so a server that stops answering
    # fails this row instead of hanging the suite.
    # shellcheck disable=SC2086
    bench --server "127.0.0.1:${port[$name]}" --conns "$per_thread" $client_args $prefill \
      --duration "$warmup" --timeout 120 --json >"$work/$name.warm.json"
    note_errors "$name warmup" "$work/$name.warm.json"
  done
  for r in $(seq "$rounds"); do
    for name in memkv memcached; do
      [[ ${skip[$name]} == 0 ]] || continue
      local before after out=$work/$name.$r.json
      before=$(cpu_ticks "${pid[$name]}")
      # shellcheck disable=SC2086
      bench --server "127.0.0.1:${port[$name]}" --conns "$per_thread" $client_args \
        --duration "$duration" --timeout $((${duration%.*} + 60)) --json >"$out"
      after=$(cpu_ticks "${pid[$name]}")
      note_errors "$name round $r" "$out"
      round_tsv $((after - before)) "$out" >>"$work/$name.rounds"
    done
  done
  local -A rss
  for name in memkv memcached; do
    rss[$name]=nan
    [[ ${skip[$name]} == 1 ]] || rss[$name]=$(($(rss_kib "${pid[$name]}") / 1024))
  done
  for name in memkv memcached; do
    [[ -z ${pid[$name]} ]] || stop_server "${pid[$name]}"
  done

  local a b
  a=$work/memkv.rounds; b=$work/memcached.rounds
  local ops_a ops_b cpu_a cpu_b p99_a p99_b hit_a hit_b hits_a hits_b req_a req_b
  local ops_ratio=nan cpu_ratio=nan
  ops_a=$(cut -f1 "$a" | median); ops_b=$(cut -f1 "$b" | median)
  cpu_a=$(cut -f2 "$a" | median); cpu_b=$(cut -f2 "$b" | median)
  p99_a=$(cut -f3 "$a" | median); p99_b=$(cut -f3 "$b" | median)
  hit_a=$(cut -f4 "$a" | median); hit_b=$(cut -f4 "$b" | median)
  hits_a=$(cut -f5 "$a" | median); hits_b=$(cut -f5 "$b" | median)
  req_a=$(cut -f6 "$a" | median); req_b=$(cut -f6 "$b" | median)
  if [[ -s $a && -s $b ]]; then
    ops_ratio=$(paste "$a" "$b" | awk -F'\t' '{print ($7 > 0 ? $1 / $7 : "nan")}' | median)
    cpu_ratio=$(paste "$a" "$b" | awk -F'\t' '{print ($8 > 0 ? $2 / $8 : "nan")}' | median)
  fi
  local hits_column
  hits_column="$(fmt "$hits_a" %.0f) ($(fmt "$hit_a" %.3f)) / $(fmt "$hits_b" %.0f) ($(fmt "$hit_b" %.3f))"
  [[ $handshakes == 0 ]] || hits_column=-
  row "$label" "$(fmt "$ops_a" %.0f)" "$(fmt "$ops_b" %.0f)" "$(fmt "$ops_ratio" %.2f)" \
    "$(fmt "$cpu_a" %.2f)" "$(fmt "$cpu_b" %.2f)" "$(fmt "$cpu_ratio" %.2f)" \
    "$(fmt "$p99_a" %.0f)" "$(fmt "$p99_b" %.0f)" \
    "$(fmt "${rss[memkv]}" '%d MiB')" "$(fmt "${rss[memcached]}" '%d MiB')" "$hits_column"
  # Multiget: ops are keys; say what that is in requests too.
  if [[ " $client_args " == *" --multiget "* ]]; then
    notes+=("$label: requests/s memkv $(fmt "$req_a" %.0f), memcached $(fmt "$req_b" %.0f); ops/s and CPU/op in the table count keys")
  fi
  rm -f "$a" "$b"
}

# rounds_row LABEL A B RSS_A RSS_B: a table row from two .rounds files of
# alternating rounds (round_tsv lines): medians, and the ratios as medians
# of the per-round ratios.
rounds_row() {
  local label=$1 a=$2 b=$3 rss_a=$4 rss_b=$5 ops_ratio cpu_ratio
  ops_ratio=$(paste "$a" "$b" | awk -F'\t' '{print ($7 > 0 ? $1 / $7 : "nan")}' | median)
  cpu_ratio=$(paste "$a" "$b" | awk -F'\t' '{print ($8 > 0 ? $2 / $8 : "nan")}' | median)
  row "$label" "$(fmt "$(cut -f1 "$a" | median)" %.0f)" \
    "$(fmt "$(cut -f1 "$b" | median)" %.0f)" "$(fmt "$ops_ratio" %.2f)" \
    "$(fmt "$(cut -f2 "$a" | median)" %.2f)" "$(fmt "$(cut -f2 "$b" | median)" %.2f)" \
    "$(fmt "$cpu_ratio" %.2f)" "$(fmt "$(cut -f3 "$a" | median)" %.0f)" \
    "$(fmt "$(cut -f3 "$b" | median)" %.0f)" "$rss_a" "$rss_b" \
    "$(fmt "$(cut -f5 "$a" | median)" %.0f) ($(fmt "$(cut -f4 "$a" | median)" %.3f)) / $(fmt "$(cut -f5 "$b" | median)" %.0f) ($(fmt "$(cut -f4 "$b" | median)" %.3f))"
}

# cluster LABEL "SERVER ARGS" "CLIENT ARGS" CONNS: three memkv nodes on one
# cluster map (memkv-admin cluster-map), driven by memkv-bench --cluster-map
# (each request to its key's vbucket owner, as the SDK routes), against one
# memkv node with the same args and client: the "memkv" columns are the three
# nodes (server CPU summed over them, RSS the largest), the "memcached" ones
# the single node. Same core placement, alternating rounds.
cluster() {
  local label=$1 server_args=$2 client_args=$3 conns=$4 r i
  local per_thread=$(((conns + client_threads - 1) / client_threads))
  selected "$label" || return 0
  log "$label"
  local ports
  ports=$(/usr/bin/python3 -c 'import socket
socks = [socket.socket() for _ in range(3)]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')
  read -r -a node_ports <<<"$ports"
  "$ADMIN" cluster-map --nodes "127.0.0.1:${node_ports[0]},127.0.0.1:${node_ports[1]},127.0.0.1:${node_ports[2]}" \
    --out "$work/cluster.json" 2>/dev/null
  local node_pids=()
  for i in 0 1 2; do
    # shellcheck disable=SC2086
    "${pin_server[@]}" "$MEMKV" -l 127.0.0.1 -p "${node_ports[$i]}" --cluster-map "$work/cluster.json" \
      --node-index "$i" $server_args >"$work/node$i.log" 2>&1 &
    node_pids+=("$!"); server_pids+=("$!")
  done
  for i in 0 1 2; do
    for _ in $(seq 50); do
      (exec 3<>"/dev/tcp/127.0.0.1/${node_ports[$i]}") 2>/dev/null && break
      sleep 0.1
    done
  done
  # shellcheck disable=SC2086
  start_server memkv $server_args
  local single_pid=$PID single_port=$PORT
  : >"$work/cluster.rounds"; : >"$work/single.rounds"
  # shellcheck disable=SC2086
  bench --cluster-map "$work/cluster.json" --conns "$per_thread" $client_args --prefill \
    --duration "$warmup" --timeout 120 --json >"$work/cluster.warm.json"
  note_errors "three nodes warmup" "$work/cluster.warm.json"
  # shellcheck disable=SC2086
  bench --server "127.0.0.1:$single_port" --conns "$per_thread" $client_args --prefill \
    --duration "$warmup" --timeout 120 --json >"$work/single.warm.json"
  for r in $(seq "$rounds"); do
    local target before after out where pids
    for target in cluster single; do
      if [[ $target == cluster ]]; then
        where=(--cluster-map "$work/cluster.json"); pids=("${node_pids[@]}")
      else
        where=(--server "127.0.0.1:$single_port"); pids=("$single_pid")
      fi
      out=$work/$target.$r.json
      before=$(ticks_of "${pids[@]}")
      # shellcheck disable=SC2086
      bench "${where[@]}" --conns "$per_thread" $client_args \
        --duration "$duration" --timeout $((${duration%.*} + 60)) --json >"$out"
      after=$(ticks_of "${pids[@]}")
      note_errors "$target round $r" "$out"
      round_tsv $((after - before)) "$out" >>"$work/$target.rounds"
    done
  done
  local rss_cluster=0 rss_single p
  for p in "${node_pids[@]}"; do
    (( $(rss_kib "$p") / 1024 > rss_cluster )) && rss_cluster=$(($(rss_kib "$p") / 1024))
  done
  rss_single=$(($(rss_kib "$single_pid") / 1024))
  for p in "${node_pids[@]}" "$single_pid"; do stop_server "$p"; done
  local a=$work/cluster.rounds b=$work/single.rounds
  rounds_row "$label" "$a" "$b" "$rss_cluster MiB (largest node)" "$rss_single MiB"
  notes+=("$label: the memkv columns are three memkv nodes on one cluster map, routed by key as the SDK does (server CPU summed over the three), the memcached columns one memkv node; a CPU/op ratio near 1 means routing costs the servers nothing")
  rm -f "$a" "$b"
}

# versus LABEL "SERVER ARGS" "EXTRA ARGS" "SIDE" "CLIENT ARGS" CONNS: what a
# feature costs memkv. The "memkv" columns are memkv started with SERVER ARGS
# plus EXTRA ARGS while SIDE (a shell command, given the server's work files
# as $1) runs beside it; the "memcached" columns are memkv with SERVER ARGS
# alone. Same client, prefill, placement and alternating rounds as
# throughput; server CPU is the whole process (so a metrics thread counts).
# SIDE finds the port of the server it runs beside in $1/with.port.
versus() {
  local label=$1 server_args=$2 extra_args=$3 side=$4 client_args=$5 conns=$6 r target
  local per_thread=$(((conns + client_threads - 1) / client_threads))
  selected "$label" || return 0
  log "$label"
  local -A pid port
  for target in with without; do
    local args=$server_args
    [[ $target == without ]] || args="$server_args $extra_args"
    # shellcheck disable=SC2086
    start_server memkv $args
    pid[$target]=$PID; port[$target]=$PORT
    [[ $target == without ]] || echo "$PORT" >"$work/with.port"
    : >"$work/$target.rounds"
    # shellcheck disable=SC2086
    bench --server "127.0.0.1:$PORT" --conns "$per_thread" $client_args --prefill \
      --duration "$warmup" --timeout 120 --json >"$work/$target.warm.json"
    note_errors "$target warmup" "$work/$target.warm.json"
  done
  bash -c "$side" _ "$work" >"$work/side.log" 2>&1 &
  local side_pid=$!
  for r in $(seq "$rounds"); do
    for target in with without; do
      local before after out=$work/$target.$r.json
      before=$(cpu_ticks "${pid[$target]}")
      # shellcheck disable=SC2086
      bench --server "127.0.0.1:${port[$target]}" --conns "$per_thread" $client_args \
        --duration "$duration" --timeout $((${duration%.*} + 60)) --json >"$out"
      after=$(cpu_ticks "${pid[$target]}")
      note_errors "$target round $r" "$out"
      round_tsv $((after - before)) "$out" >>"$work/$target.rounds"
    done
  done
  kill "$side_pid" 2>/dev/null || true
  wait "$side_pid" 2>/dev/null || true
  [[ -s $work/side.log ]] && problems+=("$label: the side command said: $(tail -1 "$work/side.log" | cut -c1-160)")
  local -A rss
  for target in with without; do
    rss[$target]=$(($(rss_kib "${pid[$target]}") / 1024))
    stop_server "${pid[$target]}"
  done
  local a=$work/with.rounds b=$work/without.rounds
  rounds_row "$label" "$a" "$b" "${rss[with]} MiB" "${rss[without]} MiB"
  local with=${extra_args//$work\//}
  notes+=("$label: the memkv columns are memkv with ${with:+$with and }the side command beside it, the memcached columns memkv without${4:+ either}; a CPU/op ratio near 1 means the feature costs nothing")
  rm -f "$a" "$b"
}

# --- memory and hit-ratio workloads: bench/workloads.sh ---------------------
source "$ROOT/bench/workloads.sh"

# --- the suite ---------------------------------------------------------------
started=$(date +%s)
common="-t $server_threads"
log "suite $suite: $rounds rounds x ${duration}s, server cores [${server_cpus:-any}] x $server_threads threads, client cores [${client_cpus:-any}]"

throughput "(a) 32 B, 50 conns, pipeline 1, get:set 10:1" "$common -m 64 -c 1024" \
  "--keys 100000 --value-size 32 --ratio 10:1 --verify" 50
throughput "(b) 32 B, 50 conns, pipeline 16, get:set 10:1" "$common -m 64 -c 1024" \
  "--keys 100000 --value-size 32 --ratio 10:1 --pipeline 16 --verify" 50
throughput "(c) 100 KiB, 10 conns, get:set 10:1" "$common -m 1024 -c 1024" \
  "--keys 256 --value-size 100k --ratio 10:1" 10
throughput "(d) 1 MiB, 4 conns, get:set 10:1" "$common -m 1024 -c 1024 -I 2m" \
  "--keys 64 --value-size 1m --ratio 10:1" 4
cluster "(k) cluster: 3 nodes routed by the map vs 1 node, 32 B, 48 conns, pipeline 16" \
  "$common -m 64 -c 1024" "--keys 100000 --value-size 32 --ratio 10:1 --pipeline 16 --verify" 48
# (m) what metrics cost: (b) against memkv with --metrics-port, scraped every
# second (Prometheus' default is every 15 s to 1 min), against memkv without.
scrape_loop='exec /usr/bin/python3 -c "
import sys, time, urllib.request
for _ in range(3600):
    try:
        port = open(sys.argv[1] + \"/metrics.port\").read().strip()
        urllib.request.urlopen(\"http://127.0.0.1:\" + port + \"/metrics\", timeout=2).read()
    except OSError as e:
        print(\"scrape failed:\", e, flush=True)
    time.sleep(1)
" "$1"'
versus "(m) metrics: (b) with /metrics scraped every 1 s vs without (memkv vs memkv)" \
  "$common -m 64 -c 1024" "--metrics-port 0 --metrics-port-file $work/metrics.port" "$scrape_loop" \
  "--keys 100000 --value-size 32 --ratio 10:1 --pipeline 16 --verify" 50
# (dcp-*): bench/dcp_rows.sh
source "$ROOT/bench/dcp_rows.sh"
# (t-*) the same servers over memcached's text protocol (get / set lines,
# "get k1 ... k100" for t-d), same client pipelining and --verify.
throughput "(t-a) text: 32 B, 50 conns, pipeline 1, get:set 10:1" "$common -m 64 -c 1024" \
  "--protocol text --keys 100000 --value-size 32 --ratio 10:1 --verify" 50
throughput "(t-b) text: 32 B, 50 conns, pipeline 16, get:set 10:1" "$common -m 64 -c 1024" \
  "--protocol text --keys 100000 --value-size 32 --ratio 10:1 --pipeline 16 --verify" 50
throughput "(t-c) text: 100 KiB, 10 conns, get:set 10:1" "$common -m 1024 -c 1024" \
  "--protocol text --keys 256 --value-size 100k --ratio 10:1" 10
throughput "(t-d) text: multiget of 100 keys x 32 B, 50 conns, pipeline 1, gets only (ops = keys)" \
  "$common -m 64 -c 1024" \
  "--protocol text --keys 100000 --value-size 32 --ratio 1:0 --multiget 100 --verify" 50
held "(e) 10,000 idle conns: RSS per conn" 10000 "$common -m 64 -c 11000" "--idle-conns 10000"
# (f) the issue's case: half of a small request arrived, then silence (memcached
# pins its 16 KiB read buffer here). (f2) a big value announced and half sent:
# those bytes really arrived, so both servers must hold them somewhere.
held "(f) 2,000 stalled half-requests (SET of 100 B): RSS per conn" 2000 \
  "$common -m 64 -c 11000" "--stall-conns 2000 --stall-value-size 100"
held "(f2) 2,000 stalled half-SETs (16 KiB value): RSS per conn" 2000 "$common -m 64 -c 11000" \
  "--stall-conns 2000 --stall-value-size 16k"
# (t-f) (f) over the text protocol: "set k 0 0 100" and half its data.
held "(t-f) text: 2,000 stalled half-requests (set of 100 B): RSS per conn" 2000 \
  "$common -m 64 -c 11000" "--protocol text --stall-conns 2000 --stall-value-size 100"
# (f3) clients that announce a ~1 MiB SET, send 90% and stall. memcached
# allocates each item up front (charged to -m); memkv holds them in read
# buffers, all under one read memory limit (--read-memory-limit, here set
# through memcached's own -o read_buf_mem_limit): beyond it connections wait
# unread, so RSS stops at the limit, not at N x 0.9 MiB.
held "(f3) 300 stalled 90% SETs (1 MiB value), read limit 64 MiB: RSS per conn" 300 \
  "$common -m 1024 -c 1024 -o read_buf_mem_limit=64" \
  "--stall-conns 300 --stall-value-size 1047552 --stall-percent 90" 3
items "(g) 1,000,000 items of 100 B, 10-byte keys: RSS per item" 1000000 "$common -m 1024 -c 1024"
# (i) what a Couchbase SDK connection costs idle, against (e): authenticated,
# then also after one range scan (its Inbox and background state are let go).
sdk_idle "(i) 2,000 idle SASL-authenticated conns (memkv only): RSS per conn" 2000 "--no-scan"
sdk_idle "(i2) 2,000 idle SASL-authenticated conns that ran one range scan (memkv only): RSS per conn" \
  2000 ""
# (tls-*) memkv -Z against memcached -Z, same run: both take memcached's TLS
# flags and one certificate (EC P-256, tests/tls/make_certs.sh), and
# memkv-bench --tls speaks TLS 1.3 and verifies the chain and the server's
# name against the test CA. GETs after a prefill (the 32 B ones verified, on
# 20,000 keys: a prefill at pipeline 1 over TLS is slow, and every GET hits);
# (tls-e) is (e) over TLS; (tls-h) times full handshakes on new connections.
tls_labels=(
  "(tls-a) TLS: 32 B GETs, 50 conns, pipeline 1"
  "(tls-b) TLS: 32 B GETs, 50 conns, pipeline 16"
  "(tls-c) TLS: 100 KiB GETs, 10 conns"
  "(tls-e) TLS: 2,000 idle TLS conns (handshake, one NOOP): RSS per conn"
  "(tls-h) TLS: full handshakes, 8 conns each looping connect, handshake, NOOP, close"
)
tls_wanted=0
for label in "${tls_labels[@]}"; do selected "$label" && tls_wanted=1; done
if [[ $tls_wanted == 1 ]]; then
  certs=$work/certs
  bash "$ROOT/tests/tls/make_certs.sh" "$certs" >/dev/null
  tls_server="-Z -o ssl_chain_cert=$certs/server.pem,ssl_key=$certs/server.key"
  tls_client="--tls --tls-ca $certs/ca.pem"
  tls_saved_rounds=$rounds; tls_saved_duration=$duration
  rounds=$tls_rounds; duration=$tls_duration
  start_may_fail=1
  throughput "${tls_labels[0]}" "$common -m 64 -c 1024 $tls_server" \
    "$tls_client --keys 20000 --value-size 32 --ratio 1:0 --verify" 50
  throughput "${tls_labels[1]}" "$common -m 64 -c 1024 $tls_server" \
    "$tls_client --keys 20000 --value-size 32 --ratio 1:0 --pipeline 16 --verify" 50
  throughput "${tls_labels[2]}" "$common -m 1024 -c 1024 $tls_server" \
    "$tls_client --keys 256 --value-size 100k --ratio 1:0" 10
  held "${tls_labels[3]}" 2000 "$common -m 64 -c 11000 $tls_server" "$tls_client --idle-conns 2000"
  if selected "${tls_labels[3]}" && [[ $held_memkv != nan && $held_memcached != nan ]]; then
    notes+=("${tls_labels[3]}: memkv / memcached = $(awk -v a="$held_memkv" -v b="$held_memcached" 'BEGIN {printf (b > 0 ? "%.2f" : "-"), (b > 0 ? a / b : 0)}')")
  fi
  throughput "${tls_labels[4]}" "$common -m 64 -c 1024 $tls_server" "$tls_client --handshakes" 8
  if selected "${tls_labels[4]}"; then
    notes+=("${tls_labels[4]}: ops/s are handshake cycles per second (new connection, full TLS 1.3 handshake, one NOOP, close_notify), server CPU µs/op is per handshake, p99 runs from connect() to the NOOP's reply")
  fi
  notes+=("(tls-*) rows: $rounds rounds x ${duration}s; both servers -Z -o ssl_chain_cert=...,ssl_key=... with an EC P-256 certificate; memkv-bench --tls (TLS 1.3, server verified)")
  start_may_fail=0
  rounds=$tls_saved_rounds; duration=$tls_saved_duration
fi
# (h) 1000 B values: about 60,000 fit in 64 MiB, so 640,000 keys is ten times
# that. A cache-aside client (GET, SET on miss) keeps the hot set filled.
saved_duration=$duration
duration=$hit_seconds
throughput "(h) hit ratio: zipf 0.99, 640k keys x 1000 B, -m 64, get + set on miss" \
  "$common -m 64 -c 1024" \
  "--keys 640000 --key-dist zipf:0.99 --value-size 1000 --ratio 1:0 --set-on-miss --pipeline 4 --verify" 50
duration=$saved_duration
# (h2) (h) plus scan pollution: once the cache is warm (h2_warm s of (h)'s
# traffic), a one-time sequential pass over 120,000 cold keys, about twice
# the ~57,000 1000 B items that fit in 64 MiB (memcached's 1184 B chunks):
# enough to flush the whole cache from a plain LRU, so whatever of the hot
# set survives is the eviction policy's doing. The sweep takes every other
# request until done (GET, then SET on its miss), the measured window starts
# with it; the row's hits column is the hot keys' (all but the sweep's).
h2_label="(h2) hit ratio with scan pollution: (h) plus a one-time sweep of 120k cold keys"
if selected "$h2_label"; then
  log "$h2_label"
  hit_round_count=$h2_rounds
  hit_rounds "$h2_label" "$common -m 64 -c 1024" \
    "--keys 640000 --key-dist zipf:0.99 --value-size 1000 --ratio 1:0 --set-on-miss --pipeline 4 --verify --sweep-keys 120000 --sweep-start $h2_warm --warmup $h2_warm --duration $h2_seconds" \
    50 $((h2_warm + h2_seconds))
  notes+=("(h2): hot-key hit ratio during the sweep memkv $(fmt "$(hit_median memkv .sweep.hot_during.hit_ratio)" %.3f) / memcached $(fmt "$(hit_median memcached .sweep.hot_during.hit_ratio)" %.3f), after it $(fmt "$(hit_median memkv .sweep.hot_after.hit_ratio)" %.3f) / $(fmt "$(hit_median memcached .sweep.hot_after.hit_ratio)" %.3f) ($(fmt "$(hit_median memkv .sweep.hot_after_hits_per_sec)" %.0f) / $(fmt "$(hit_median memcached .sweep.hot_after_hits_per_sec)" %.0f) hits/s); the sweep ran from ${h2_warm} s to $(fmt "$(hit_median memkv .sweep.end_s)" %.1f) s / $(fmt "$(hit_median memcached .sweep.end_s)" %.1f) s; $hit_round_count fresh round(s) per server, ${h2_warm} s warmup + ${h2_seconds} s measured")
fi
# (h3) value sizes shift mid-run, cache-aside, zipf 0.99 on 1M keys: first
# 80-120 B values (~1M x ~180 B is ~3x of 64 MiB), then from h3_shift s on a
# fresh 1M keys with 8-12 KiB values (~150x). --prefill sets all 1M small
# values first, so all of -m belongs to small items at the shift (without it
# memcached still had unallocated pages there). memcached keeps its defaults
# (slab_reassign and slab_automove=1 are on in 1.6): automove hands pages to
# the starved classes about one per second (63 of 64 moved in ~60 s when
# measured), so the run goes on h3_after s past the shift, reported per
# h3_interval s window (the measured window is the time after the shift).
h3_label="(h3) hit ratio when value sizes shift: 80-120 B to 8-12 KiB mid-run, 1M keys zipf 0.99, -m 64"
if selected "$h3_label"; then
  log "$h3_label"
  hit_round_count=$h3_rounds
  hit_rounds "$h3_label" "$common -m 64 -c 1024" \
    "--keys 1000000 --key-dist zipf:0.99 --value-size 80-120 --shift-at $h3_shift --shift-value-size 8k-12k --ratio 1:0 --set-on-miss --pipeline 4 --verify --warmup $h3_shift --duration $h3_after --report-interval $h3_interval --prefill" \
    50 $((h3_shift + h3_after + 120))
  h3_windows=()
  for ((i = h3_shift / h3_interval; i < (h3_shift + h3_after) / h3_interval; i++)); do
    h3_windows+=("$(( i * h3_interval - h3_shift ))-$(( (i + 1) * h3_interval - h3_shift )) s $(fmt "$(hit_median memkv ".intervals[$i].hot.hit_ratio")" %.3f)/$(fmt "$(hit_median memcached ".intervals[$i].hot.hit_ratio")" %.3f)")
  done
  h3_before=$((h3_shift / h3_interval - 1))
  h3_text=$(printf '%s, ' "${h3_windows[@]}")
  notes+=("(h3): hot hit ratio memkv/memcached per ${h3_interval} s after the shift (medians of $hit_round_count round(s)): ${h3_text%, }; in the ${h3_interval} s before it $(fmt "$(hit_median memkv ".intervals[$h3_before].hot.hit_ratio")" %.3f)/$(fmt "$(hit_median memcached ".intervals[$h3_before].hot.hit_ratio")" %.3f)")
fi

elapsed=$(($(date +%s) - started))
table=$(
  echo "| Workload | ops/s memkv | ops/s memcached | ratio | server CPU µs/op memkv | server CPU µs/op memcached | ratio | p99 µs memkv | p99 µs memcached | RSS memkv | RSS memcached | hits/s (hit ratio) memkv / memcached |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
)
echo "$table"
echo
echo "Suite $suite: $rounds rounds x ${duration}s per server per workload (hit ratio ${hit_seconds}s), alternating memkv/memcached; medians; ratio = median of per-round memkv/memcached. ${elapsed}s total."
if ((${#notes[@]} > 0)); then
  echo
  printf -- '- %s\n' "${notes[@]}"
fi
if ((${#problems[@]} > 0)); then
  echo
  echo "Problems seen:"
  printf -- '- %s\n' "${problems[@]}"
fi

if [[ $suite == full && -z $only ]]; then
  commit=$(git -C "$ROOT" rev-parse --short HEAD)
  dirty=""
  [[ -z $(git -C "$ROOT" status --porcelain --untracked-files=no) ]] || dirty=" (plus uncommitted changes)"
  cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
  {
    echo "# Benchmark results"
    echo
    echo "Latest \`make bench\` (bench/run.sh --suite full); the script rewrites this file."
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- Machine: $cores cores ($cpu_model), kernel $(uname -r), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM"
    echo "- Commit: $commit$dirty"
    echo "- memcached: $("$MEMCACHED" -V 2>/dev/null | head -1)"
    echo "- Servers: -t $server_threads on cores [${server_cpus:-any}]; memkv-bench: $client_threads thread(s) on cores [${client_cpus:-any}]"
    echo "- $rounds rounds x ${duration}s per server per workload (hit ratio ${hit_seconds}s), alternating; medians; ratio = median of per-round memkv/memcached"
    echo
    echo "$table"
    if ((${#notes[@]} > 0)); then
      echo
      printf -- '- %s\n' "${notes[@]}"
    fi
    if ((${#problems[@]} > 0)); then
      echo
      echo "Problems seen:"
      printf -- '- %s\n' "${problems[@]}"
    fi
  } >"$ROOT/bench/RESULTS.md"
  log "wrote bench/RESULTS.md"
fi
