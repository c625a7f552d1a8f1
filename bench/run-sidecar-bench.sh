#!/usr/bin/env bash
# pdsim-sidecar benchmark, side by side in one run:
#  1. pass-through: wrk through pdsim-sidecar vs through nginx proxy_pass (keep-alive
#     upstream), both in front of the same zero-latency simulator;
#  2. P/D overhead: pd_overhead sends the same nixlv2 request either through the sidecar
#     or as the two legs itself (same transforms), alternating in blocks.
# Writes bench/results-sidecar.md and .json and regenerates bench/RESULTS.md.
# Loopback only; every process it starts is stopped on exit.
#
# Usage: bench/run-sidecar-bench.sh [RUNS]     (RUNS per measurement, default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
BUILD=${BUILD_DIR:-build-rel}
scripts/deps.sh build bench
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target pdsim-simulator pdsim-sidecar pd_overhead >/dev/null
SIM="$BUILD/simulator/pdsim-simulator"
SC="$BUILD/sidecar/pdsim-sidecar"
PDO="$BUILD/bench/pd_overhead"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

WORK=$(mktemp -d /tmp/pdsim-scbench.XXXXXX)
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

# start NAME BINARY ARGS... : start a pdsim binary on port 0; sets PORT_<NAME>.
start() {
  local name=$1 bin=$2
  shift 2
  local log="$WORK/$name.log"
  "$bin" --host 127.0.0.1 --port 0 "$@" 2>"$log" &
  PIDS+=($!)
  for _ in $(seq 200); do
    local p
    p=$(grep -o '"msg":"listening".*"port":[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    if [ -n "$p" ]; then printf -v "PORT_$name" '%s' "$p"; return 0; fi
    sleep 0.05
  done
  echo "$name did not start: $(cat "$log")" >&2
  exit 1
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
minmax() { sort -g | awk 'NR==1{mn=$1} {mx=$1} END {printf "%s–%s", mn, mx}'; }
progress() { printf '\r%-78s' "$*" >&2; }

start pre "$SIM" --model bench-model --mode echo --max-num-seqs 1024
start dec "$SIM" --model bench-model --mode echo --max-num-seqs 1024
start sc "$SC" --secure-proxy=false --model-server-port "$PORT_dec" --http-threads 256

NGINX_PORT=$(free_port)
mkdir -p "$WORK/nginx"
cat > "$WORK/nginx/nginx.conf" <<NGX
worker_processes auto;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx;
  proxy_temp_path $WORK/nginx;
  upstream sim { server 127.0.0.1:$PORT_dec; keepalive 256; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://sim;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
NGX
nginx -c "$WORK/nginx/nginx.conf" &
PIDS+=($!)
sleep 0.5

CHAT='{"model":"bench-model","messages":[{"role":"user","content":"This is a test."}],"max_tokens":10}'
URL=/v1/chat/completions
B_SC=$(curl -s "http://127.0.0.1:$PORT_sc$URL" -H 'Content-Type: application/json' -d "$CHAT")
B_NG=$(curl -s "http://127.0.0.1:$NGINX_PORT$URL" -H 'Content-Type: application/json' -d "$CHAT")
[ "${#B_SC}" -eq "${#B_NG}" ] || { echo "sidecar and nginx bodies differ in size" >&2; exit 1; }
cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$CHAT'
wrk.headers["Content-Type"] = "application/json"
LUA
WRK_ARGS="-t1 -c50 -d10s -s $WORK/post.lua"
: > "$WORK/sc_rps"; : > "$WORK/ngx_rps"; : > "$WORK/ratio"; : > "$WORK/direct_rps"
for i in $(seq "$RUNS"); do
  progress "pass-through run $i/$RUNS: pdsim-sidecar"
  s=$(wrk $WRK_ARGS "http://127.0.0.1:$PORT_sc$URL" | awk '/Requests\/sec/ {print $2}')
  progress "pass-through run $i/$RUNS: nginx proxy_pass"
  n=$(wrk $WRK_ARGS "http://127.0.0.1:$NGINX_PORT$URL" | awk '/Requests\/sec/ {print $2}')
  echo "$s" >> "$WORK/sc_rps"; echo "$n" >> "$WORK/ngx_rps"
  awk -v s="$s" -v n="$n" 'BEGIN {printf "%.3f\n", s/n}' >> "$WORK/ratio"
done
progress "simulator alone (context)"
wrk $WRK_ARGS "http://127.0.0.1:$PORT_dec$URL" | awk '/Requests\/sec/ {print $2}' > "$WORK/direct_rps"
SC_RPS=$(median < "$WORK/sc_rps"); NGX_RPS=$(median < "$WORK/ngx_rps")
RATIO=$(median < "$WORK/ratio"); RATIO_MM=$(minmax < "$WORK/ratio")
RPS_PASS=$(awk -v r="$RATIO" 'BEGIN {print (r >= 0.7) ? "PASS" : "FAIL"}')

: > "$WORK/pdo"
for i in $(seq "$RUNS"); do
  progress "P/D overhead run $i/$RUNS: 4000 requests each way"
  "$PDO" --prefill "$PORT_pre" --decode "$PORT_dec" --sidecar "$PORT_sc" --requests 4000 --json >> "$WORK/pdo"
done
printf '\r%-78s\r' "" >&2
field() { /usr/bin/python3 -c 'import json,sys; [print(json.loads(l)[sys.argv[1]]) for l in open(sys.argv[2])]' "$1" "$WORK/pdo"; }
A50=$(field added_p50_ms | median); A99=$(field added_p99_ms | median)
D50=$(field direct_p50_ms | median); D99=$(field direct_p99_ms | median)
S50=$(field sidecar_p50_ms | median); S99=$(field sidecar_p99_ms | median)
P50_PASS=$(awk -v v="$A50" 'BEGIN {print (v <= 0.3) ? "PASS" : "FAIL"}')
P99_PASS=$(awk -v v="$A99" 'BEGIN {print (v <= 1.0) ? "PASS" : "FAIL"}')
CPU=$(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//')
{
  echo "## pdsim-sidecar"
  echo
  echo "Generated by \`bench/run-sidecar-bench.sh $RUNS\` on $(date -u +%Y-%m-%dT%H:%MZ)."
  echo "Machine: $(nproc) cores ($CPU), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r);"
  echo "load generator, proxies and simulators share the machine. Release build. Medians of $RUNS runs."
  echo
  echo "| benchmark | pdsim-sidecar | reference | ratio / difference (min–max) | target | result |"
  echo "|---|---|---|---|---|---|"
  echo "| pass-through non-streaming chat, wrk -t1 -c50 -d10s | $SC_RPS req/s | nginx \`proxy_pass\` (keep-alive upstream, 2 workers): $NGX_RPS req/s | $RATIO ($RATIO_MM) | ≥ 0.7× | $RPS_PASS |"
  echo "| P/D request, added latency p50 | $S50 ms | client runs both legs: $D50 ms | +$A50 ms (min–max $(field added_p50_ms | minmax)) | ≤ 0.3 ms | $P50_PASS |"
  echo "| P/D request, added latency p99 | $S99 ms | client runs both legs: $D99 ms | +$A99 ms (min–max $(field added_p99_ms | minmax)) | ≤ 1 ms | $P99_PASS |"
  echo
  echo '```'
  echo "pass-through req/s sidecar: $(tr '\n' ' ' < "$WORK/sc_rps")"
  echo "pass-through req/s nginx:   $(tr '\n' ' ' < "$WORK/ngx_rps")"
  echo "simulator alone req/s:      $(cat "$WORK/direct_rps")"
  cat "$WORK/pdo"
  echo '```'
  echo
  echo "How it is measured:"
  echo
  echo "- Pass-through: \`wrk $WRK_ARGS\` POSTs \`$CHAT\` without \`x-prefiller-host-port\`, alternating between"
  echo "  \`pdsim-sidecar --http-threads 256\` and nginx (\`worker_processes auto\`, \`proxy_pass\` to an upstream"
  echo "  block with \`keepalive 256\`, HTTP/1.1, \`proxy_buffering off\`), both in front of one"
  echo "  \`pdsim-simulator --mode echo\` with no latency. Both return the same body."
  echo "- P/D overhead: \`pd_overhead --requests 4000\` at concurrency 1, 100-request blocks alternating. Direct: POST"
  echo "  the prefill body to the prefill simulator, parse \`kv_transfer_params\`, POST the decode body to the decode"
  echo "  simulator (the sidecar's own transform functions, keep-alive libcurl handles). Sidecar: POST the client's"
  echo "  body with \`x-prefiller-host-port\`. Latency is start to the last response byte."
} > bench/results-sidecar.md
/usr/bin/python3 - "$SC_RPS" "$NGX_RPS" "$RATIO" "$A50" "$A99" > bench/results-sidecar.json <<'PY'
import json, sys
a = sys.argv[1:]
print(json.dumps({"pass_through": {"sidecar_rps": float(a[0]), "nginx_rps": float(a[1]),
                                   "ratio": float(a[2]), "target": 0.7},
                  "pd_overhead": {"added_p50_ms": float(a[3]), "added_p99_ms": float(a[4]),
                                  "target_p50_ms": 0.3, "target_p99_ms": 1.0}}, indent=1))
PY
bench/assemble-results.sh
cat bench/results-sidecar.md
