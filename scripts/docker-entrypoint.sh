#!/bin/sh
# Entry point of the Conveyor image (Dockerfile.api / Dockerfile.worker): one image, the process
# chosen by MODE. `exec` makes Node the direct child of tini (PID 1), so SIGTERM reaches it and
# the graceful stop runs; a graceful stop exits 143.
#
#   MODE=api              the HTTP API (PORT)
#   MODE=worker           the worker (health and metrics on WORKER_HEALTH_PORT)
#   MODE=migrate          apply pending migrations and exit (`migrate --revert` undoes the last)
#   MODE=validate-config  check the environment and exit
#   MODE=keys             the API key CLI (arguments pass through)
#   MODE=bg-migrations    the background migrations CLI (arguments pass through: status, start <name>, …)
set -eu

app=dist/apps/api/apps/api/src
case "${MODE:-}" in
  api) exec node "$app/main.js" "$@" ;;
  worker) exec node dist/apps/worker/apps/worker/src/main.js "$@" ;;
  migrate) exec node "$app/migrate.js" "$@" ;;
  validate-config) exec node "$app/validate-config.js" "$@" ;;
  keys) exec node "$app/keys.js" "$@" ;;
  bg-migrations) exec node "$app/bg-migrations.js" "$@" ;;
  *)
    echo "docker-entrypoint: MODE must be api, worker, migrate, validate-config, keys or bg-migrations (got '${MODE:-}')" >&2
    exit 64
    ;;
esac
