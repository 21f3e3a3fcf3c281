#!/usr/bin/env bash
# Runs the built worker (`npm run build` first) as a background process with a PID file and log
# files, for hosts without pm2, systemd units or containers.
#
#   scripts/start-worker.sh start            start it; refuses when one is already running
#   scripts/start-worker.sh stop             SIGTERM, wait for the graceful exit, SIGKILL after a timeout
#   scripts/start-worker.sh restart          stop, then start
#   scripts/start-worker.sh status           pid, uptime, RSS, CPU and the worker's health JSON
#   scripts/start-worker.sh logs [error|follow] [lines]
#                                            the log; the error log; or follow both (Ctrl-C ends)
#
# Exit codes (LSB): 0 ok; 1 failure (start: already running or failed to start; status: the pid
# file names a dead process); 2 bad usage; 3 status: not running.
#
# The worker reads its configuration from the environment, then <project>/.env (ENV_FILE), as
# always. This script's own settings:
#   WORKER_PID_FILE        default <project>/data/run/worker.pid
#   WORKER_LOG_DIR         default <project>/logs (worker.log: stdout, JSON lines;
#                          worker.error.log: stderr). Rotate with scripts/logrotate.conf.
#   WORKER_STOP_TIMEOUT_S  how long `stop` waits before SIGKILL; default SHUTDOWN_GRACE_MS + 15 s
#   WORKER_START_TIMEOUT_S how long `start` waits for the health server; default 60
#   NODE                   the Node 24 binary; default <project>/node_modules/.bin/node, else `node`
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENTRY="$ROOT/dist/apps/worker/apps/worker/src/main.js"
PID_FILE="${WORKER_PID_FILE:-$ROOT/data/run/worker.pid}"
LOG_DIR="${WORKER_LOG_DIR:-$ROOT/logs}"
OUT_LOG="$LOG_DIR/worker.log"
ERR_LOG="$LOG_DIR/worker.error.log"

if [[ -n "${NODE:-}" ]]; then
  NODE_BIN="$NODE"
elif [[ -x "$ROOT/node_modules/.bin/node" ]]; then
  NODE_BIN="$ROOT/node_modules/.bin/node"
else
  NODE_BIN="node"
fi

say() { printf '%s\n' "$*"; }
fail() { printf 'start-worker: %s\n' "$*" >&2; }

# shellcheck source=scripts/lib/setting.sh disable=SC1091
source "$ROOT/scripts/lib/setting.sh"

HEALTH_PORT="$(setting WORKER_HEALTH_PORT 3001)"
GRACE_MS="$(setting SHUTDOWN_GRACE_MS 30000)"
STOP_TIMEOUT_S="${WORKER_STOP_TIMEOUT_S:-$(( GRACE_MS / 1000 + 15 ))}"
START_TIMEOUT_S="${WORKER_START_TIMEOUT_S:-60}"
HEALTH_URL="http://127.0.0.1:$HEALTH_PORT"

# The pid from the pid file if that process is alive and is our worker (not a reused pid).
running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(tr -dc '0-9' <"$PID_FILE")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r "/proc/$pid/cmdline" ]]; then
    local cmdline
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline")"
    [[ "$cmdline" == *"$ENTRY"* ]] || return 1
  fi
  printf '%s' "$pid"
}

# GET a health URL; prints the body; exit 0 on 200, 1 otherwise. Uses the worker's own Node, so
# it needs neither curl nor wget.
http_get() {
  # shellcheck disable=SC2016 # JavaScript, not shell
  "$NODE_BIN" -e '
    fetch(process.argv[1], { signal: AbortSignal.timeout(3000) })
      .then(async (r) => { process.stdout.write(await r.text()); process.exit(r.status === 200 ? 0 : 1); })
      .catch((e) => { process.stdout.write(`unreachable: ${e.cause?.code ?? e.message}`); process.exit(1); });' "$1"
}

check_node() {
  local major
  major="$("$NODE_BIN" -p 'process.versions.node.split(".")[0]' 2>/dev/null)" || { fail "no Node at $NODE_BIN"; return 1; }
  if (( major < 24 )); then
    fail "$NODE_BIN is Node $major; the worker needs Node 24 (run npm ci, or set NODE)"
    return 1
  fi
}

cmd_start() {
  local pid
  if pid="$(running_pid)"; then
    fail "the worker is already running (pid $pid, pid file $PID_FILE); not starting a second copy"
    return 1
  fi
  if [[ -f "$PID_FILE" ]]; then
    say "removing the stale pid file $PID_FILE"
    rm -f "$PID_FILE"
  fi
  [[ -f "$ENTRY" ]] || { fail "$ENTRY not found: run npm run build first"; return 1; }
  check_node || return 1
  mkdir -p "$LOG_DIR" "$(dirname "$PID_FILE")" || return 1

  local started_at
  started_at="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  printf '%s start-worker: starting\n' "$started_at" >>"$ERR_LOG"
  # Own session (setsid): a Ctrl-C in the terminal that ran `start` does not reach the worker.
  # Appending (>>) keeps writes at the end of the file after logrotate's copytruncate.
  (
    cd "$ROOT" || exit 1
    if command -v setsid >/dev/null; then
      exec setsid "$NODE_BIN" "$ENTRY" </dev/null >>"$OUT_LOG" 2>>"$ERR_LOG"
    else
      exec nohup "$NODE_BIN" "$ENTRY" </dev/null >>"$OUT_LOG" 2>>"$ERR_LOG"
    fi
  ) &
  pid=$!
  printf '%s\n' "$pid" >"$PID_FILE"

  local deadline=$(( SECONDS + START_TIMEOUT_S )) body
  while (( SECONDS < deadline )); do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PID_FILE"
      fail "the worker exited during start; last lines of $ERR_LOG:"
      tail -n 20 "$ERR_LOG" >&2
      return 1
    fi
    if body="$(http_get "$HEALTH_URL/health/ready")"; then
      say "worker started (pid $pid), ready: $body"
      return 0
    fi
    sleep 0.5
  done
  say "worker started (pid $pid) but not ready after ${START_TIMEOUT_S}s: $body"
  say "check: $0 status, $0 logs error"
  return 0
}

cmd_stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    say "the worker is not running"
    return 0
  fi
  say "stopping the worker (pid $pid): SIGTERM, waiting up to ${STOP_TIMEOUT_S}s for running tasks to finish"
  kill -TERM "$pid" 2>/dev/null
  local deadline=$(( SECONDS + STOP_TIMEOUT_S )) waited_from=$SECONDS
  while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    fail "the worker did not exit within ${STOP_TIMEOUT_S}s: sending SIGKILL (its running tasks return to the queue once their locks expire)"
    kill -KILL "$pid" 2>/dev/null
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    rm -f "$PID_FILE"
    return 0
  fi
  rm -f "$PID_FILE"
  say "worker stopped (pid $pid) after $(( SECONDS - waited_from ))s"
}

cmd_status() {
  local pid
  if ! pid="$(running_pid)"; then
    if [[ -f "$PID_FILE" ]]; then
      say "the worker is not running, but the pid file $PID_FILE remains (it died?); see $0 logs error"
      return 1
    fi
    say "the worker is not running"
    return 3
  fi
  local uptime rss_kb cpu
  uptime="$(ps -o etime= -p "$pid" 2>/dev/null | tr -d ' ')"
  rss_kb="$(ps -o rss= -p "$pid" 2>/dev/null | tr -d ' ')"
  cpu="$(ps -o %cpu= -p "$pid" 2>/dev/null | tr -d ' ')"
  if [[ -z "$rss_kb" && -r "/proc/$pid/status" ]]; then # no procps (slim images)
    rss_kb="$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")"
  fi
  say "worker running"
  say "  pid:     $pid"
  say "  uptime:  ${uptime:-?}"
  say "  rss:     $(( ${rss_kb:-0} / 1024 )) MB"
  say "  cpu:     ${cpu:-?}%"
  say "  logs:    $OUT_LOG, $ERR_LOG"
  local body ready="ready"
  body="$(http_get "$HEALTH_URL/health/ready")" || ready="NOT ready"
  say "  health:  $ready ($HEALTH_URL/health/ready)"
  say "$body"
  return 0
}

cmd_logs() {
  local mode="${1:-}" lines="${2:-100}"
  case "$mode" in
    "" | [0-9]*)
      [[ -n "$mode" ]] && lines="$mode"
      [[ -f "$OUT_LOG" ]] || { say "no log yet ($OUT_LOG)"; return 0; }
      tail -n "$lines" "$OUT_LOG"
      ;;
    error)
      say "== $ERR_LOG (stderr)"
      [[ -f "$ERR_LOG" ]] && tail -n "$lines" "$ERR_LOG"
      # pino levels: 50 error, 60 fatal
      say "== error and fatal lines of $OUT_LOG"
      [[ -f "$OUT_LOG" ]] && { grep -E '"level":(50|60)[,}]' "$OUT_LOG" | tail -n "$lines"; true; }
      ;;
    follow)
      mkdir -p "$LOG_DIR" && touch "$OUT_LOG" "$ERR_LOG"
      exec tail -n "${2:-20}" -F "$OUT_LOG" "$ERR_LOG"
      ;;
    *)
      fail "unknown logs mode: $mode (use: logs, logs error, logs follow)"
      return 2
      ;;
  esac
}

usage() {
  say "usage: $0 start|stop|restart|status|logs [error|follow]"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop && cmd_start ;;
  status) cmd_status ;;
  logs) shift; cmd_logs "$@" ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
