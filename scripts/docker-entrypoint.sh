#!/usr/bin/env bash
# Entry point of the Conveyor image (Dockerfile.api / Dockerfile.worker): one image, the process
# chosen by MODE. `exec` makes Node the direct child of tini (PID 1), so SIGTERM reaches it and
# the graceful stop runs; a graceful stop exits 143.
#
#   MODE=api              the HTTP API (PORT)
#   MODE=worker           the worker (health and metrics on WORKER_HEALTH_PORT)
#   MODE=all              the API and the worker in one container, for small installs (see run_all)
#   MODE=migrate          apply pending migrations and exit (`migrate --revert` undoes the last)
#   MODE=validate-config  check the environment and exit
#   MODE=keys             the API key CLI (arguments pass through)
#   MODE=bg-migrations    the background migrations CLI (arguments pass through: status, start <name>, …)
set -eu

app=dist/apps/api/apps/api/src
worker=dist/apps/worker/apps/worker/src/main.js

say() { printf 'docker-entrypoint: %s\n' "$*" >&2; }

# MODE=all: both apps as children of this shell, which supervises them. SIGTERM/SIGINT go to
# both; each drains as it does alone (the worker finishes running tasks within
# SHUTDOWN_GRACE_MS). If either exits on its own, the other is stopped too and the container
# exits non-zero, so the restart policy brings both back together: never an API without a
# worker behind it. Exit: 143 after a graceful stop of both, else the first failing app's code.
run_all() {
  local stopping="" api_pid worker_pid first_pid="" first_code=0 code=0
  node "$app/main.js" &
  api_pid=$!
  node "$worker" &
  worker_pid=$!
  # Once: a second SIGTERM would make a Nest app skip its graceful shutdown. Called by the traps.
  # shellcheck disable=SC2317
  forward() {
    [ -z "$stopping" ] || return 0
    stopping="$1"
    kill -TERM "$api_pid" "$worker_pid" 2>/dev/null || true
  }
  trap 'forward SIGTERM' TERM
  trap 'forward SIGINT' INT

  # `wait -n` returns when one app exits, or early (no pid) when a trapped signal arrives.
  while [ -z "${first_pid:-}" ]; do
    if wait -n -p first_pid "$api_pid" "$worker_pid" 2>/dev/null; then first_code=0; else first_code=$?; fi
    if [ -z "${first_pid:-}" ] && [ "$first_code" = 127 ]; then first_pid=unknown; fi
  done
  local first_name=api other_pid=$worker_pid
  if [ "$first_pid" = "$worker_pid" ]; then first_name=worker other_pid=$api_pid; fi
  if [ -z "$stopping" ]; then
    say "the $first_name exited on its own (code $first_code): stopping the other app"
    kill -TERM "$other_pid" 2>/dev/null || true
  fi
  # The other app: wait again after each trapped signal until it has really gone.
  local done_pid=""
  while [ -z "${done_pid:-}" ]; do
    if wait -n -p done_pid "$other_pid" 2>/dev/null; then code=0; else code=$?; fi
    if [ -z "${done_pid:-}" ] && [ "$code" = 127 ]; then break; fi # already collected: no such job
  done
  trap - TERM INT
  if [ -n "$stopping" ]; then
    clean() { [ "$1" = 0 ] || [ "$1" = 143 ] || [ "$1" = 130 ]; }
    if clean "$first_code" && clean "$code"; then
      say "API and worker stopped ($stopping)"
      exit 143
    fi
    say "stop after $stopping: the $first_name exited $first_code, the other $code"
  fi
  if [ "$first_code" = 0 ]; then exit 1; fi
  exit "$first_code"
}

case "${MODE:-}" in
  api) exec node "$app/main.js" "$@" ;;
  worker) exec node "$worker" "$@" ;;
  all) run_all ;;
  migrate) exec node "$app/migrate.js" "$@" ;;
  validate-config) exec node "$app/validate-config.js" "$@" ;;
  keys) exec node "$app/keys.js" "$@" ;;
  bg-migrations) exec node "$app/bg-migrations.js" "$@" ;;
  *)
    say "MODE must be api, worker, all, migrate, validate-config, keys or bg-migrations (got '${MODE:-}')"
    exit 64
    ;;
esac
