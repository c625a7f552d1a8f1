#!/usr/bin/env bash
# pdsim-simulator benchmark: throughput against nginx, streaming fidelity with
# 1,000 concurrent streams, and RSS per in-flight stream. Writes results-sim.md and
# results-sim.json beside this script and regenerates RESULTS.md. Loopback only; every process it starts
# is stopped on exit.
#
# Usage: bench/run-sim-bench.sh [RUNS]     (RUNS per measurement, default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
BUILD=${BUILD_DIR:-build-rel}
scripts/deps.sh build bench
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target pdsim-simulator sse_loadgen >/dev/null
SIM="$BUILD/simulator/pdsim-simulator"
LOADGEN="$BUILD/bench/sse_loadgen"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

WORK=$(mktemp -d /tmp/pdsim-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_sim NAME ARGS... : starts the simulator, waits for its "listening" line.
start_sim() {
  local log="$WORK/sim.log"
  : > "$log"
  "$SIM" --host 127.0.0.1 --port 0 --model bench-model "$@" 2>"$log" &
  SIM_PID=$!
  PIDS+=("$SIM_PID")
  for _ in $(seq 100); do
    SIM_PORT=$(grep -o '"msg":"listening".*"port":[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    [ -n "$SIM_PORT" ] && return 0
    sleep 0.05
  done
  echo "simulator did not start: $(cat "$log")" >&2
  exit 1
}
stop_sim() { kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null || true; }

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
minmax() { sort -g | awk 'NR==1{mn=$1} {mx=$1} END {printf "%s–%s", mn, mx}'; }
progress() { printf '\r%-78s' "$*" >&2; }

CHAT='{"model":"bench-model","messages":[{"role":"user","content":"This is a test."}],"max_tokens":10}'

# ---- 1. zero-latency non-streaming chat vs nginx returning the same body ----
start_sim --mode echo --max-num-seqs 1024
BODY=$(curl -s "http://127.0.0.1:$SIM_PORT/v1/chat/completions" -H 'Content-Type: application/json' -d "$CHAT")
NGINX_PORT=$(free_port)
mkdir -p "$WORK/nginx"
ESCAPED=$(printf '%s' "$BODY" | sed "s/'/\\\\'/g")
cat > "$WORK/nginx/nginx.conf" <<NGX
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / { default_type application/json; return 200 '$ESCAPED'; }
  }
}
NGX
nginx -c "$WORK/nginx/nginx.conf" &
PIDS+=($!)
sleep 0.5
NGINX_BODY=$(curl -s -X POST "http://127.0.0.1:$NGINX_PORT/v1/chat/completions")
[ "${#NGINX_BODY}" -eq "${#BODY}" ] || { echo "nginx body size differs" >&2; exit 1; }
cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$CHAT'
wrk.headers["Content-Type"] = "application/json"
LUA
WRK_ARGS="-t1 -c50 -d10s -s $WORK/post.lua"
: > "$WORK/sim_rps"; : > "$WORK/ngx_rps"; : > "$WORK/ratio"
for i in $(seq "$RUNS"); do
  progress "throughput run $i/$RUNS: pdsim-simulator"
  s=$(wrk $WRK_ARGS "http://127.0.0.1:$SIM_PORT/v1/chat/completions" | awk '/Requests\/sec/ {print $2}')
  progress "throughput run $i/$RUNS: nginx"
  n=$(wrk $WRK_ARGS "http://127.0.0.1:$NGINX_PORT/v1/chat/completions" | awk '/Requests\/sec/ {print $2}')
  echo "$s" >> "$WORK/sim_rps"; echo "$n" >> "$WORK/ngx_rps"
  awk -v s="$s" -v n="$n" 'BEGIN {printf "%.3f\n", s/n}' >> "$WORK/ratio"
done
stop_sim
SIM_RPS=$(median < "$WORK/sim_rps"); NGX_RPS=$(median < "$WORK/ngx_rps")
RATIO=$(median < "$WORK/ratio"); RATIO_MM=$(minmax < "$WORK/ratio")
RPS_PASS=$(awk -v r="$RATIO" 'BEGIN {print (r >= 0.6) ? "PASS" : "FAIL"}')

# ---- 2. fidelity: 1,000 streams, TTFT 100 ms, 50 tokens, ITL 20 ms and 10 ms ----
fidelity() { # ITL_MS -> lines "ttft_p99 itl_p99 ttft_p50 itl_p50 tokens_per_s failed"
  local itl=$1
  start_sim --max-num-seqs 2000 --max-waiting-queue-length 5000 \
    --time-to-first-token 100ms --inter-token-latency "${itl}ms"
  for i in $(seq "$RUNS"); do
    progress "fidelity ITL ${itl} ms run $i/$RUNS: 1000 streams x 50 tokens"
    "$LOADGEN" --model bench-model --port "$SIM_PORT" --streams 1000 --tokens 50 --ttft-ms 100 --itl-ms "$itl" \
      --ramp-ms 1000 --json > "$WORK/lg.json"
    /usr/bin/python3 -c 'import json,sys; j=json.load(open(sys.argv[1]));
print(j["ttft_err_ms"]["p99"], j["itl_err_ms"]["p99"], j["ttft_err_ms"]["p50"],
      j["itl_err_ms"]["p50"], j["tokens_per_s"], j["failed"])' "$WORK/lg.json"
  done
  stop_sim
}
fidelity 20 > "$WORK/fid20"
fidelity 10 > "$WORK/fid10"
col() { awk -v c="$2" '{print $c}' "$1"; }

# ---- 3. RSS per in-flight stream ----
progress "memory: 1000 long streams in flight"
start_sim --max-num-seqs 2000 --max-waiting-queue-length 5000 --inter-token-latency 20ms
sleep 0.5
RSS_IDLE=$(awk '/VmRSS/ {print $2}' "/proc/$SIM_PID/status")
"$LOADGEN" --model bench-model --port "$SIM_PORT" --streams 1000 --tokens 250 --ttft-ms 0 --itl-ms 20 \
  --ramp-ms 1000 --json > "$WORK/mem.json" &
LG=$!
sleep 3
RSS_BUSY=$(awk '/VmRSS/ {print $2}' "/proc/$SIM_PID/status")
INFLIGHT=$(curl -s "http://127.0.0.1:$SIM_PORT/metrics" | awk '/^vllm:num_requests_running/ {print $2}')
wait "$LG"
stop_sim
PER_STREAM=$(awk -v b="$RSS_BUSY" -v i="$RSS_IDLE" -v n="$INFLIGHT" 'BEGIN {printf "%.1f", (b-i)/n}')
MEM_PASS=$(awk -v p="$PER_STREAM" 'BEGIN {print (p <= 64) ? "PASS" : "FAIL"}')
printf '\r%-78s\r' "" >&2

pass_le() { awk -v v="$1" -v t="$2" 'BEGIN {print (v <= t) ? "PASS" : "FAIL"}'; }
T20=$(col "$WORK/fid20" 1 | median); I20=$(col "$WORK/fid20" 2 | median)
T10=$(col "$WORK/fid10" 1 | median); I10=$(col "$WORK/fid10" 2 | median)
CPU=$(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//')
{
  echo "## pdsim-simulator"
  echo
  echo "Generated by \`bench/run-sim-bench.sh $RUNS\` on $(date -u +%Y-%m-%dT%H:%MZ)."
  echo "Machine: $(nproc) cores ($CPU), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r);"
  echo "load generator and server share the machine. Release build. Medians of $RUNS runs."
  echo
  echo "| benchmark | pdsim | reference | ratio (min–max) | target | result |"
  echo "|---|---|---|---|---|---|"
  echo "| zero-latency non-streaming chat, wrk -t1 -c50 -d10s | $SIM_RPS req/s | nginx \`return 200\` same ${#BODY}-byte body: $NGX_RPS req/s | $RATIO ($RATIO_MM) | ≥ 0.6× | $RPS_PASS |"
  echo "| 1,000 streams, TTFT 100 ms, ITL 20 ms, 50 tokens: p99 \|TTFT error\| | $T20 ms | | min–max $(col "$WORK/fid20" 1 | minmax) | ≤ 2 ms | $(pass_le "$T20" 2) |"
  echo "| same: p99 \|ITL error\| | $I20 ms | | min–max $(col "$WORK/fid20" 2 | minmax) | ≤ 1 ms | $(pass_le "$I20" 1) |"
  echo "| 1,000 streams, ITL 10 ms (100k tokens/s): p99 \|TTFT error\| | $T10 ms | | min–max $(col "$WORK/fid10" 1 | minmax) | (report) | |"
  echo "| same: p99 \|ITL error\| | $I10 ms | | min–max $(col "$WORK/fid10" 2 | minmax) | (report; ideal epoll server ≈ 0.6–1.6 ms) | |"
  echo "| RSS per in-flight stream (1,000 streams) | $PER_STREAM KiB | idle $RSS_IDLE KiB, busy $RSS_BUSY KiB, $INFLIGHT running | | ≤ 64 KiB | $MEM_PASS |"
  echo
  echo "Fidelity runs (p99 TTFT err, p99 ITL err, p50 TTFT err, p50 ITL err, tokens/s, failed streams):"
  echo
  echo '```'
  echo "ITL 20 ms:"; cat "$WORK/fid20"; echo "ITL 10 ms:"; cat "$WORK/fid10"
  echo "throughput req/s pdsim: $(tr '\n' ' ' < "$WORK/sim_rps")"
  echo "throughput req/s nginx: $(tr '\n' ' ' < "$WORK/ngx_rps")"
  echo '```'
  echo
  echo "## How it is measured"
  echo
  echo "- Throughput: \`wrk $WRK_ARGS\` POSTs \`$CHAT\` to \`pdsim-simulator --mode echo --max-num-seqs 1024\`"
  echo "  and then to nginx (1 worker, \`return 200\` with the simulator's exact response body), alternating, $RUNS times."
  echo "- Fidelity: \`sse_loadgen --streams 1000 --tokens 50 --ttft-ms 100 --itl-ms N --ramp-ms 1000\`"
  echo "  against \`pdsim-simulator --max-num-seqs 2000 --time-to-first-token 100ms --inter-token-latency Nms\`."
  echo "  The load generator is one epoll thread; it timestamps each read on return. TTFT error = first content"
  echo "  token − request written − 100 ms; ITL error = gap between content tokens − N ms."
  echo "- Memory: VmRSS of the simulator with 1,000 streams in flight minus VmRSS after start, divided by the"
  echo "  running-request gauge read at the same moment."
  echo
  cat bench/NOTES-sim.md
} > bench/results-sim.md
/usr/bin/python3 - "$SIM_RPS" "$NGX_RPS" "$RATIO" "$T20" "$I20" "$T10" "$I10" "$PER_STREAM" > bench/results-sim.json <<'PY'
import json, sys
a = sys.argv[1:]
print(json.dumps({"throughput": {"pdsim_rps": float(a[0]), "nginx_rps": float(a[1]),
                                 "ratio": float(a[2]), "target": 0.6},
                  "fidelity_itl20": {"ttft_p99_ms": float(a[3]), "itl_p99_ms": float(a[4])},
                  "fidelity_itl10": {"ttft_p99_ms": float(a[5]), "itl_p99_ms": float(a[6])},
                  "rss_per_stream_kib": float(a[7])}, indent=1))
PY
bench/assemble-results.sh
cat bench/results-sim.md
