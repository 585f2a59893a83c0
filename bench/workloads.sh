# Sourced by bench/run.sh (its helpers and variables): the workloads that are not
# alternating throughput rounds: RSS per held connection or per item, fresh-server hit-ratio
# rounds, idle SASL connections.
# shellcheck shell=bash
# --- memory workloads ------------------------------------------------------
# held LABEL N "SERVER ARGS" "HOLD ARGS" [SETTLE_S]: RSS per held connection,
# for each server, SETTLE_S (default 1) seconds after the holder is READY;
# also left in held_memkv and held_memcached (bytes, or nan).
held() {
  local label=$1 n=$2 server_args=$3 hold_args=$4 settle=${5:-1} name
  local -A per
  selected "$label" || return 0
  log "$label"
  for name in memkv memcached; do
    # shellcheck disable=SC2086
    if ! start_or_note "$label" "$name" $server_args; then
      per[$name]=nan
      continue
    fi
    local spid=$PID before after out=$work/$name.hold
    sleep 0.5
    before=$(rss_kib "$spid")
    : >"$out"  # exists before the holder opens it, for the READY poll below
    # shellcheck disable=SC2086
    "${pin_client[@]}" "$BENCH" --server "127.0.0.1:$PORT" $hold_args --duration 120 \
      --timeout 60 >"$out" 2>"$out.err" &
    holder_pid=$!
    for _ in $(seq 600); do  # 60 s at most for the connections to settle
      grep -q '^READY' "$out" && break
      kill -0 "$holder_pid" 2>/dev/null || break
      sleep 0.1
    done
    if grep -q '^READY' "$out"; then
      sleep "$settle"  # let the server finish reading what the last connections sent
      after=$(rss_kib "$spid")
      per[$name]=$(((after - before) * 1024 / n))
      grep -q 'failed=0' "$out" || problems+=("$name $label: $(head -1 "$out")")
    else
      per[$name]=nan
      problems+=("$name $label: connections never settled: $(tail -2 "$out.err" | tr '\n' ' ')")
    fi
    kill "$holder_pid" 2>/dev/null || true
    wait "$holder_pid" 2>/dev/null || true
    holder_pid=""
    grep -q 'closed_by_server=[1-9]' "$out" && problems+=("$name $label: $(tail -1 "$out")")
    stop_server "$spid"
  done
  row "$label" - - - - - - - - "$(fmt "${per[memkv]}" '%d B/conn')" \
    "$(fmt "${per[memcached]}" '%d B/conn')" -
  held_memkv=${per[memkv]}; held_memcached=${per[memcached]}
}

# server_stat PORT NAME: one general statistic from the text protocol's
# "stats" (both servers answer it); empty when missing. Bounded: 2 s a line.
server_stat() {
  local stat_port=$1 name=$2 line value="" fd
  exec {fd}<>"/dev/tcp/127.0.0.1/$stat_port" || return 0
  printf 'stats\r\n' >&"$fd"
  while IFS= read -r -t 2 line <&"$fd"; do
    line=${line%$'\r'}
    [[ $line == END ]] && break
    [[ $line == "STAT $name "* ]] && value=${line#"STAT $name "}
  done
  exec {fd}>&-
  echo "$value"
}

# items LABEL N "SERVER ARGS": RSS per item after setting N keys of 10 bytes
# ("k:" and 8 digits) with 100 B values, divided by the items the server
# says it holds (curr_items), not by N: a server that evicted or refused some
# must not look cheaper per item. A count other than N is listed as a problem.
items() {
  local label=$1 n=$2 server_args=$3 name
  local -A per
  selected "$label" || return 0
  log "$label"
  for name in memkv memcached; do
    # shellcheck disable=SC2086
    start_server "$name" $server_args
    local spid=$PID before after stored
    sleep 0.5
    before=$(rss_kib "$spid")
    bench --server "127.0.0.1:$PORT" --conns 50 --pipeline 16 --keys "$n" --key-prefix k: \
      --key-digits 8 --value-size 100 --prefill --duration 0 --json >"$work/$name.items.json"
    note_errors "$name $label" "$work/$name.items.json"
    after=$(rss_kib "$spid")
    stored=$(server_stat "$PORT" curr_items)
    if [[ -z $stored || $stored == 0 ]]; then
      per[$name]=nan
      problems+=("$label: $name reported no curr_items")
    else
      per[$name]=$(((after - before) * 1024 / stored))
      [[ $stored == "$n" ]] || problems+=("$label: $name holds $stored of the $n items set")
    fi
    stop_server "$spid"
  done
  row "$label" - - - - - - - - "$(fmt "${per[memkv]}" '%d B/item')" \
    "$(fmt "${per[memcached]}" '%d B/item')" -
}

# hit_rounds LABEL "SERVER ARGS" "CLIENT ARGS" CONNS SECONDS: workloads whose
# cache state is what they measure (a one-time sweep, a shift of value
# sizes). Each round starts both servers fresh and runs one memkv-bench of
# SECONDS (its --warmup and --duration are in CLIENT ARGS) per server, memkv
# then memcached, round after round; each result stays in
# $work/NAME.hit.ROUND.json for the row's notes. The row: medians of ops/s,
# p99 and RSS at the end, and the hot keys' (all but the sweep's) hits/s and
# hit ratio in the measured window. CPU columns are empty: the warmup's
# operations run on the same servers but are not counted.
hit_rounds() {
  local label=$1 server_args=$2 client_args=$3 conns=$4 seconds=$5 r name
  local per_thread=$(((conns + client_threads - 1) / client_threads))
  for name in memkv memcached; do : >"$work/$name.hit.rounds"; done
  for r in $(seq "$hit_round_count"); do
    for name in memkv memcached; do
      local out=$work/$name.hit.$r.json rss
      # shellcheck disable=SC2086
      start_server "$name" $server_args
      # shellcheck disable=SC2086
      bench --server "127.0.0.1:$PORT" --conns "$per_thread" $client_args \
        --timeout $((seconds + 60)) --json >"$out"
      rss=$(($(rss_kib "$PID") / 1024))
      stop_server "$PID"
      note_errors "$name round $r" "$out"
      jq -r --argjson rss "$rss" \
        '[.ops_per_sec, .latency_us.p99, .hot.hit_ratio, .hot_hits_per_sec, $rss] | @tsv' \
        "$out" >>"$work/$name.hit.rounds" || problems+=("$label: $name round $r gave no result")
    done
  done
  local a=$work/memkv.hit.rounds b=$work/memcached.hit.rounds ops_ratio=nan
  if [[ -s $a && -s $b ]]; then
    ops_ratio=$(paste "$a" "$b" | awk -F'\t' '{print ($6 > 0 ? $1 / $6 : "nan")}' | median)
  fi
  row "$label" "$(fmt "$(cut -f1 "$a" | median)" %.0f)" \
    "$(fmt "$(cut -f1 "$b" | median)" %.0f)" "$(fmt "$ops_ratio" %.2f)" - - - \
    "$(fmt "$(cut -f2 "$a" | median)" %.0f)" "$(fmt "$(cut -f2 "$b" | median)" %.0f)" \
    "$(fmt "$(cut -f5 "$a" | median)" '%d MiB')" "$(fmt "$(cut -f5 "$b" | median)" '%d MiB')" \
    "$(fmt "$(cut -f4 "$a" | median)" %.0f) ($(fmt "$(cut -f3 "$a" | median)" %.3f)) / $(fmt "$(cut -f4 "$b" | median)" %.0f) ($(fmt "$(cut -f3 "$b" | median)" %.3f))"
}

# hit_median NAME JQ: the median over this row's rounds of JQ applied to
# NAME's results (nan where a round gave none).
hit_median() {
  local name=$1 filter=$2 r
  for r in $(seq "$hit_round_count"); do
    jq -r "$filter // \"nan\"" "$work/$name.hit.$r.json" 2>/dev/null || echo nan
  done | { grep -v nan || true; } | median
}

# sdk_idle LABEL N "SCRIPT ARGS": memkv only (memcached has no SASL users file
# nor range scans): RSS per idle connection that authenticated with SASL PLAIN
# and, unless SCRIPT ARGS say --no-scan, ran one range scan to its end.
sdk_idle() {
  local label=$1 n=$2 script_args=$3 users=$work/users.json
  selected "$label" || return 0
  log "$label"
  rm -f "$users"
  # A low PBKDF2 count: the row measures idle memory, not authentication cost.
  echo bench-password | "$ADMIN" add-user --users-file "$users" --name bench \
    --roles 'read[default],write[default]' --iterations 100 >/dev/null
  # shellcheck disable=SC2086
  start_server memkv $common -m 64 -c 11000 --users-file "$users"
  local spid=$PID before after per out=$work/sdk_idle.out
  local client=(python3 "$ROOT/bench/idle_scan_conns.py" --port "$PORT" --user bench
    --password bench-password)
  # One connection first: the document the scans find, and the first scan's
  # one-time costs (executor threads), outside the measurement.
  "${pin_client[@]}" "${client[@]}" --conns 1 --fill >/dev/null 2>"$out.err" ||
    problems+=("$label: warm-up failed: $(tail -1 "$out.err")")
  sleep 0.6  # two pool trim ticks
  before=$(rss_kib "$spid")
  # shellcheck disable=SC2086
  "${pin_client[@]}" "${client[@]}" --conns "$n" --hold 120 $script_args >"$out" 2>>"$out.err" &
  holder_pid=$!
  for _ in $(seq 1200); do  # 120 s at most
    grep -q '^READY' "$out" && break
    kill -0 "$holder_pid" 2>/dev/null || break
    sleep 0.1
  done
  if grep -q '^READY' "$out"; then
    sleep 1  # two worker ticks: idle Inboxes are let go on the tick
    after=$(rss_kib "$spid")
    per=$(((after - before) * 1024 / n))
  else
    per=nan
    problems+=("$label: connections never settled: $(tail -2 "$out.err" | tr '\n' ' ')")
  fi
  kill "$holder_pid" 2>/dev/null || true
  wait "$holder_pid" 2>/dev/null || true
  holder_pid=""
  stop_server "$spid"
  row "$label" - - - - - - - - "$(fmt "$per" '%d B/conn')" - -
}
