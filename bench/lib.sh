# Shared by the bench/run-*-bench.sh scripts (source it; bash only).
#   bench_setup WORKNAME TARGET...  deps, Release build of the targets into $BUILD, open-file
#                                  limit, $WORK temp dir, and a trap that stops what was started
#   start NAME BINARY ARGS...      run a pdsim binary on 127.0.0.1:0; sets PORT_<NAME>, PID_<NAME>
#   stop NAME                      stop it
#   free_port, median, minmax, progress
RUNS=${RUNS:-3}
BUILD=${BUILD_DIR:-build-rel}
PIDS=()

bench_setup() {
  local name=$1
  shift
  scripts/deps.sh build bench
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" --target "$@" >/dev/null
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
  WORK=$(mktemp -d "/tmp/$name.XXXXXX")
  trap bench_cleanup EXIT
}

bench_cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start() {
  local name=$1 bin=$2
  shift 2
  local log="$WORK/$name.log"
  "$bin" --host 127.0.0.1 --port 0 "$@" 2>"$log" &
  printf -v "PID_$name" '%s' "$!"
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

stop() {
  local pid_var="PID_$1"
  kill "${!pid_var}"
  wait "${!pid_var}" 2>/dev/null || true
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
minmax() { sort -g | awk 'NR==1{mn=$1} {mx=$1} END {printf "%s–%s", mn, mx}'; }
progress() { printf '\r%-78s' "$*" >&2; }
