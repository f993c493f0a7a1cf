# Shell helpers of bench/run, bench/compare and bench/stats (sourced, not run). They expect
# $work (the temporary folder, with logs/), $ok (1 once the run succeeded), the array started,
# and $token.

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }

cleanup() {
  local pid
  for pid in "${started[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null || true
  done
  for pid in "${started[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  if [ "$ok" = 1 ] && [ -z "${BENCH_KEEP:-}" ]; then
    rm -rf "$work"
  else
    echo "logs and raw results kept in $work" >&2
  fi
}

# start NAME CPU CMD...: starts CMD pinned to CPU in its own process group (so that stopping it
# also stops any worker it forks), logging to $work/logs/NAME.log; sets $pid.
start() {
  local name=$1 cpu=$2
  shift 2
  setsid taskset -c "$cpu" "$@" >"$work/logs/$name.log" 2>&1 &
  pid=$!
  started+=("$pid")
}

# stop PID: stops what start started, and waits until it is gone.
stop() {
  local p=$1 i
  kill -TERM -- "-$p" 2>/dev/null || true
  for i in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  local keep=()
  for i in "${started[@]}"; do [ "$i" = "$p" ] || keep+=("$i"); done
  started=("${keep[@]}")
}

# wait_up NAME PID CMD...: waits up to 60 s until CMD succeeds, failing if the process died.
wait_up() {
  local name=$1 p=$2
  shift 2
  for _ in $(seq 600); do
    "$@" >/dev/null 2>&1 && return 0
    if ! kill -0 "$p" 2>/dev/null; then
      log "$name exited; its log:"
      tail -20 "$work/logs/$name.log" >&2
      return 1
    fi
    sleep 0.1
  done
  log "$name did not come up in 60 s; its log:"
  tail -20 "$work/logs/$name.log" >&2
  return 1
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
gql_ok() { curl -fsS -m 5 "$1" -H 'Content-Type: application/json' -H "Authorization: Bearer $token" --data-binary @"$2"; }

# rss_kib PID: the resident memory of PID and all its descendants, in KiB.
rss_kib() {
  local total=0 p v
  for p in $1 $(descendants "$1"); do
    v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}
descendants() {
  local c
  for c in $(pgrep -P "$1" || true); do
    echo "$c"
    descendants "$c"
  done
}
# sample_rss PID FILE: writes the largest rss_kib of PID to FILE every 200 ms until killed.
sample_rss() {
  local max=0 v
  while :; do
    v=$(rss_kib "$1")
    if [ "$v" -gt "$max" ]; then max=$v && echo "$max" >"$2"; fi
    sleep 0.2
  done
}

apt_install() {
  log "installing $* with apt"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null) >&2
}
