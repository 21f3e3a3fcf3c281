#!/usr/bin/env bash
# Runs the built worker (`npm run build` first) as a background process with a PID file and log
# files, for hosts without pm2, systemd units or containers. A small supervisor (this script, in
# its own session) starts the worker and starts a fresh one when it exits 75 (recycled:
# WORKER_MAX_TASKS or WORKER_MAX_RSS reached, running tasks finished) or dies of a signal it did
# not get from `stop` (kill -9, OOM). A worker that lived less than WORKER_MIN_UPTIME_S is
# restarted after a delay that doubles up to WORKER_RESTART_MAX_DELAY_S (a crash loop backs off).
# Any other exit (0, 1: bad configuration, a stop) ends the supervisor too.
#
#   scripts/start-worker.sh start            start it; refuses when one is already running
#   scripts/start-worker.sh stop             stop the supervisor, SIGTERM the worker, wait for the
#                                            graceful exit, SIGKILL after a timeout
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
#   WORKER_PID_FILE        default <project>/data/run/worker.pid (the worker's pid; the supervisor's
#                          is in the same place with .supervisor.pid)
#   WORKER_MIN_UPTIME_S    a worker that exits sooner counts as a crash loop; default 10
#   WORKER_RESTART_MAX_DELAY_S  longest delay between restarts in a crash loop; default 60
#   WORKER_LOG_DIR         default <project>/logs (worker.log: stdout, JSON lines;
#                          worker.error.log: stderr). Rotate with scripts/logrotate.conf.
#   WORKER_STOP_TIMEOUT_S  how long `stop` waits before SIGKILL; default SHUTDOWN_GRACE_MS + 15 s
#   WORKER_START_TIMEOUT_S how long `start` waits for the health server; default 60
#   NODE                   the Node 24 binary; default <project>/node_modules/.bin/node, else `node`
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENTRY="$ROOT/dist/apps/worker/apps/worker/src/main.js"
SCRIPT="$ROOT/scripts/start-worker.sh"
PID_FILE="${WORKER_PID_FILE:-$ROOT/data/run/worker.pid}"
SUPERVISOR_PID_FILE="${PID_FILE%.pid}.supervisor.pid"
RECYCLE_EXIT_CODE=75
MIN_UPTIME_S="${WORKER_MIN_UPTIME_S:-10}"
RESTART_MAX_DELAY_S="${WORKER_RESTART_MAX_DELAY_S:-60}"
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

# The pid in FILE if that process is alive and its command line holds NEEDLE (not a reused pid).
live_pid() {
  local file="$1" needle="$2" pid cmdline
  [[ -f "$file" ]] || return 1
  pid="$(tr -dc '0-9' <"$file")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r "/proc/$pid/cmdline" ]]; then
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline")"
    [[ "$cmdline" == *"$needle"* ]] || return 1
  fi
  printf '%s' "$pid"
}

# The worker's pid, and the supervisor's, when alive and ours.
running_pid() { live_pid "$PID_FILE" "$ENTRY"; }
supervisor_pid() { live_pid "$SUPERVISOR_PID_FILE" "$SCRIPT supervise"; }

log_err() { printf '%s start-worker: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >>"$ERR_LOG"; }

# The supervisor (`start-worker.sh supervise`, started by `start` in its own session): runs the
# worker, records its pid, and starts a fresh one after a recycle (exit 75) or a death by a signal
# it did not get from `stop`. SIGTERM/SIGINT to the supervisor (from `stop`) is passed to the
# worker once, and the supervisor exits when the worker has.
cmd_supervise() {
  local stopping=0 child="" code started delay=1
  trap 'stopping=1; [[ -n "$child" ]] && kill -TERM "$child" 2>/dev/null' TERM INT
  cd "$ROOT" || exit 1
  # Its own pid, from itself: `start` only knows the pid it launched, which setsid replaces when
  # it has to fork (a caller leading its own process group).
  printf '%s\n' "$$" >"$SUPERVISOR_PID_FILE"
  while :; do
    started=$SECONDS
    # Appending (>>) keeps writes at the end of the file after logrotate's copytruncate.
    "$NODE_BIN" "$ENTRY" </dev/null >>"$OUT_LOG" 2>>"$ERR_LOG" &
    child=$!
    printf '%s\n' "$child" >"$PID_FILE"
    # `wait` returns early when a trapped signal arrives; wait again while the worker lives.
    while :; do
      wait "$child"
      code=$?
      kill -0 "$child" 2>/dev/null || break
    done
    child=""
    if (( stopping )); then
      break
    elif (( code == RECYCLE_EXIT_CODE )); then
      log_err "the worker recycled (exit $code); starting a fresh one"
    elif (( code > 128 && code != 130 && code != 143 )); then
      log_err "the worker died of signal $(( code - 128 )); starting a fresh one"
    else
      log_err "the worker exited with code $code; not restarting it"
      break
    fi
    if (( SECONDS - started < MIN_UPTIME_S )); then
      log_err "it lived less than ${MIN_UPTIME_S}s: waiting ${delay}s first"
      local sleeper
      sleep "$delay" &
      sleeper=$!
      wait "$sleeper" || kill "$sleeper" 2>/dev/null
      (( stopping )) && break
      delay=$(( delay * 2 > RESTART_MAX_DELAY_S ? RESTART_MAX_DELAY_S : delay * 2 ))
    else
      delay=1
    fi
  done
  rm -f "$PID_FILE" "$SUPERVISOR_PID_FILE"
  exit 0
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
  if pid="$(running_pid)" || pid="$(supervisor_pid)"; then
    fail "the worker is already running (pid $pid, pid file $PID_FILE); not starting a second copy"
    return 1
  fi
  if [[ -f "$PID_FILE" ]]; then
    say "removing the stale pid file $PID_FILE"
    rm -f "$PID_FILE"
  fi
  rm -f "$SUPERVISOR_PID_FILE"
  [[ -f "$ENTRY" ]] || { fail "$ENTRY not found: run npm run build first"; return 1; }
  check_node || return 1
  mkdir -p "$LOG_DIR" "$(dirname "$PID_FILE")" || return 1

  log_err "starting"
  # Own session (setsid): a Ctrl-C in the terminal that ran `start` reaches neither process.
  (
    cd "$ROOT" || exit 1
    if command -v setsid >/dev/null; then
      exec setsid bash "$SCRIPT" supervise </dev/null >>"$ERR_LOG" 2>&1
    else
      exec nohup bash "$SCRIPT" supervise </dev/null >>"$ERR_LOG" 2>&1
    fi
  ) &
  local supervisor=$!
  # The supervisor rewrites this with its own pid; until then, the pid launched.
  printf '%s\n' "$supervisor" >"$SUPERVISOR_PID_FILE"

  local deadline=$(( SECONDS + START_TIMEOUT_S )) body=""
  while (( SECONDS < deadline )); do
    # Dead only when neither the launched process nor the supervisor it became is alive.
    if ! kill -0 "$supervisor" 2>/dev/null && ! supervisor="$(supervisor_pid)"; then
      rm -f "$PID_FILE" "$SUPERVISOR_PID_FILE"
      fail "the worker exited during start; last lines of $ERR_LOG:"
      tail -n 20 "$ERR_LOG" >&2
      return 1
    fi
    if pid="$(running_pid)" && body="$(http_get "$HEALTH_URL/health/ready")"; then
      say "worker started (pid $pid, supervisor $supervisor), ready: $body"
      return 0
    fi
    sleep 0.5
  done
  say "worker started (supervisor $supervisor) but not ready after ${START_TIMEOUT_S}s: $body"
  say "check: $0 status, $0 logs error"
  return 0
}

cmd_stop() {
  local pid supervisor=""
  supervisor="$(supervisor_pid)" || supervisor=""
  if ! pid="$(running_pid)"; then
    # Between two workers (a restart delay): stopping the supervisor is all there is to do.
    [[ -n "$supervisor" ]] && kill -TERM "$supervisor" 2>/dev/null && wait_gone "$supervisor" 10
    rm -f "$PID_FILE" "$SUPERVISOR_PID_FILE"
    say "the worker is not running"
    return 0
  fi
  say "stopping the worker (pid $pid): SIGTERM, waiting up to ${STOP_TIMEOUT_S}s for running tasks to finish"
  # The supervisor passes the signal on (once) and does not restart the worker.
  if [[ -n "$supervisor" ]]; then kill -TERM "$supervisor" 2>/dev/null; else kill -TERM "$pid" 2>/dev/null; fi
  local deadline=$(( SECONDS + STOP_TIMEOUT_S )) waited_from=$SECONDS
  while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    fail "the worker did not exit within ${STOP_TIMEOUT_S}s: sending SIGKILL (its running tasks return to the queue once their locks expire)"
    kill -KILL "$pid" 2>/dev/null
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    [[ -n "$supervisor" ]] && wait_gone "$supervisor" 10
    rm -f "$PID_FILE" "$SUPERVISOR_PID_FILE"
    return 0
  fi
  [[ -n "$supervisor" ]] && wait_gone "$supervisor" 10
  rm -f "$PID_FILE" "$SUPERVISOR_PID_FILE"
  say "worker stopped (pid $pid) after $(( SECONDS - waited_from ))s"
}

# Waits up to $2 seconds for process $1 to exit.
wait_gone() {
  local deadline=$(( SECONDS + $2 ))
  while kill -0 "$1" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.1; done
}

cmd_status() {
  local pid supervisor
  if ! pid="$(running_pid)" && supervisor="$(supervisor_pid)"; then
    say "the worker is being restarted by its supervisor (pid $supervisor); see $0 logs error"
    return 0
  fi
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
  say "  supervisor: $(supervisor_pid || printf 'none (not restarted when it exits)')"
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
  supervise) cmd_supervise ;;
  restart) cmd_stop && cmd_start ;;
  status) cmd_status ;;
  logs) shift; cmd_logs "$@" ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
