# Sourced by bench/run.sh (its helpers and variables) where the suite runs the DCP rows.
# shellcheck shell=bash
# (dcp-*) issue 17's DCP rows, memkv against memkv. (dcp-a): one memkv-dcp consumer
# streams a 1 GiB bucket of 1 KiB values (backfill) against an SDK-style range scan of it
# (bench/dcp_bench.py; the same server, alternating rounds). (dcp-f): a following stream
# while memkv-bench fills the flushed bucket again, against that refill alone.
dcp_labels=(
  "(dcp-a) DCP backfill vs RangeScan: 1 GiB of 1 KiB values to one consumer (memkv vs memkv)"
  "(dcp-f) DCP following a 1 GiB fill vs the fill alone (memkv vs memkv)"
)
if selected "${dcp_labels[0]}" || selected "${dcp_labels[1]}"; then
  log "${dcp_labels[0]}"
  if /usr/bin/python3 "$ROOT/bench/dcp_bench.py" --build "$BUILD" --rounds "$dcp_rounds" \
    --threads "$server_threads" --server-cpus "$server_cpus" --client-cpus "$client_cpus" \
    >"$work/dcp.json" 2>"$work/dcp.log"; then
    d=$work/dcp.json
    row "${dcp_labels[0]}" "$(fmt "$(jqf '.backfill.items_per_s' "$d")" %.0f)" \
      "$(fmt "$(jqf '.scan.items_per_s' "$d")" %.0f)" \
      "$(fmt "$(jqf '.ratio_items_per_s' "$d")" %.2f)" \
      "$(fmt "$(jqf '.backfill.cpu_us_per_item' "$d")" %.2f)" \
      "$(fmt "$(jqf '.scan.cpu_us_per_item' "$d")" %.2f)" \
      "$(fmt "$(jqf '.ratio_cpu_per_item' "$d")" %.2f)" - - "$(jqf '.rss_mib' "$d") MiB" - -
    notes+=("${dcp_labels[0]}: ops are documents; the memkv columns are DCP (memkv-dcp, 10 MiB window acknowledged at half, $(fmt "$(jqf '.backfill.mb_per_s' "$d")" %.0f) MB/s on the wire), the memcached columns a range scan of every vbucket over one connection (bench/scan_bench.py, 1 MiB CONTINUEs, $(fmt "$(jqf '.scan.mb_per_s' "$d")" %.0f) MB/s; a Python client, so its docs/s may be the client's limit: the CPU/op ratio compares the server's work); memkv's own fill rate in the same run: $(fmt "$(jqf '.fill_per_s' "$d")" %.0f) docs/s ($(fmt "$(jqf '.fill_mb_per_s' "$d")" %.0f) MB/s), $(fmt "$(jqf '.fill_cpu_us_per_doc' "$d")" %.2f) µs server CPU per doc; $dcp_rounds rounds")
    row "${dcp_labels[1]}" "$(fmt "$(jqf '.following.items_per_s' "$d")" %.0f)" \
      "$(fmt "$(jqf '.refill.fill_per_s' "$d")" %.0f)" \
      "$(fmt "$(jqf '(.following.items_per_s / .refill.fill_per_s)' "$d")" %.2f)" \
      "$(fmt "$(jqf '.following.fill_cpu_us_per_doc' "$d")" %.2f)" \
      "$(fmt "$(jqf '.refill.fill_cpu_us_per_doc' "$d")" %.2f)" \
      "$(fmt "$(jqf '(.following.fill_cpu_us_per_doc / .refill.fill_cpu_us_per_doc)' "$d")" %.2f)" - - - - -
    notes+=("${dcp_labels[1]}: the memkv columns are the documents a following memkv-dcp received per second (first change to last) while memkv-bench filled the flushed bucket, and the server CPU per document of that fill with the stream (the streaming included); the memcached columns the same refill without a stream; the fill with the stream ran at $(fmt "$(jqf '.following.fill_per_s' "$d")" %.0f) docs/s; change logs dropped $(jqf '.following.change_logs_dropped' "$d") entries, cursors dropped $(jqf '.following.cursors_dropped' "$d")")
  else
    problems+=("(dcp-a/f): bench/dcp_bench.py failed: $(tail -1 "$work/dcp.log" | cut -c1-200)")
  fi
fi
# (dcp-s) the change log on the SET path: pipelined SETs with a following stream on every
# vbucket (memkv-dcp, 10 MiB window, acknowledged) against memkv without one.
dcp_side='port=$(cat "$1/with.port")
exec '"${pin_client[*]}"' '"$BUILD"'/memkv-dcp --port "$port" --name side --follow >/dev/null 2>"$1/side.err"'
versus "(dcp-s) DCP: pipelined SETs with a following stream vs without (memkv vs memkv)" \
  "$common -m 64 -c 1024" "" "$dcp_side" \
  "--keys 100000 --value-size 32 --ratio 0:1 --pipeline 16" 50
selected "(dcp-s)" && notes+=("(dcp-s): the side command is memkv-dcp --follow on every vbucket, so the memkv columns' server CPU includes sending each SET's change to it")
# (dcp-l) the change log alone on the SET path: the same SETs beside a following stream whose
# consumer never acknowledges (a 64 KiB window: it stalls at once), so every SET is logged for
# it but none is sent.
versus "(dcp-l) DCP: pipelined SETs with a stalled following stream vs without (memkv vs memkv)" \
  "$common -m 64 -c 1024" "" "${dcp_side/--name side --follow/--name stalled --follow --window 65536 --ack never}" \
  "--keys 100000 --value-size 32 --ratio 0:1 --pipeline 16" 50
# (dcp-p) a consumer that never acknowledges (64 KiB window, following every vbucket: it
# stalls once the window is full) beside (a)'s GETs and SETs on the same worker (-t 1 on
# two cores): its neighbours' p99 against memkv without it.
dcp_stalled='port=$(cat "$1/with.port")
exec '"${pin_client[*]}"' '"$BUILD"'/memkv-dcp --port "$port" --name stalled --follow --window 65536 --ack never >/dev/null 2>"$1/side.err"'
versus "(dcp-p) DCP: (a) beside a consumer that never acks vs without (memkv vs memkv)" \
  "$common -m 64 -c 1024" "" "$dcp_stalled" \
  "--keys 100000 --value-size 32 --ratio 10:1 --verify" 50
