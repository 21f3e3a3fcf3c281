#!/usr/bin/env bash
# One entry point for running Conveyor with Docker Compose (docker-compose.worker.yml):
#
#   scripts/deploy.sh [--full|--app-only] [--dry-run] <command> [api|worker|all]
#
#   build     build the image(s)
#   start     start (migrations first; --full also starts Redis and PostgreSQL)
#   stop      stop (--full + all: Redis and PostgreSQL too); running tasks finish first
#   restart   restart the app container(s)
#   status    the containers and their health
#   logs      the last lines (DEPLOY_LOG_LINES, default 100); -f/--follow keeps following
#   migrate   apply pending migrations and exit (`migrate --revert` undoes the last one)
#   backup    dump the task ledger database to BACKUP_DIR (default data/backups)
#
# --full (default): the bundled Redis and PostgreSQL run next to the apps.
# --app-only: the apps only, against the Redis and database named by DATABASE_URL and REDIS_URL
#   (environment, then .env / ENV_FILE), handed to Compose as EXTERNAL_DATABASE_URL and
#   EXTERNAL_REDIS_URL; `backup` then runs scripts/backup.sh on this host (needs pg_dump or
#   mariadb-dump).
# --dry-run prints the commands (passwords masked) without running anything; it needs no Docker.
#
# Compose reads CONVEYOR_ADMIN_KEY and the other ${…} values from the environment or .env.
# Exit codes: 0 ok; 2 bad usage or configuration; 3 Docker or Compose missing; else the exit code
# of the docker command that failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COMPOSE_FILE=docker-compose.worker.yml
MIN_COMPOSE=2.20 # the compose file's header asks for it (depends_on conditions, profiles, deploy.replicas)
BACKUP_DIR="${BACKUP_DIR:-$ROOT/data/backups}"
LINES="${DEPLOY_LOG_LINES:-100}"

say() { printf '%s\n' "$*"; }
fail() { printf 'deploy: %s\n' "$1" >&2; exit "${2:-1}"; }
usage_error() { usage >&2; fail "$1" 2; }

usage() {
  say "usage: scripts/deploy.sh [--full|--app-only] [--dry-run] build|start|stop|restart|status|logs|migrate|backup [api|worker|all]"
  say "       logs: -f/--follow; migrate: --revert. See the header of scripts/deploy.sh and README \"Deploying\"."
}

mode="" dry_run="" follow="" revert="" command="" target=""
for arg in "$@"; do
  case "$arg" in
    --full | --app-only)
      [[ -z "$mode" || "$mode" == "${arg#--}" ]] || usage_error "choose one of --full and --app-only"
      mode="${arg#--}"
      ;;
    --dry-run) dry_run=1 ;;
    -f | --follow) follow=1 ;;
    --revert) revert=1 ;;
    -h | --help | help) usage; exit 0 ;;
    -*) usage_error "unknown option: $arg" ;;
    *)
      if [[ -z "$command" ]]; then command="$arg"
      elif [[ -z "$target" ]]; then target="$arg"
      else usage_error "unexpected argument: $arg"
      fi
      ;;
  esac
done
mode="${mode:-full}"
target="${target:-all}"
case "$command" in
  build | start | stop | restart | status | logs | migrate | backup) ;;
  "") usage >&2; exit 2 ;;
  *) usage_error "unknown command: $command" ;;
esac
case "$target" in
  api | worker) services=("$target") ;;
  all) services=(api worker) ;;
  *) usage_error "unknown target: $target (api, worker or all)" ;;
esac
[[ -z "$follow" || "$command" == logs ]] || usage_error "--follow goes with logs"
[[ -z "$revert" || "$command" == migrate ]] || usage_error "--revert goes with migrate"
[[ "$LINES" =~ ^[0-9]+$ ]] || fail "DEPLOY_LOG_LINES must be a whole number" 2

# shellcheck source=scripts/lib/setting.sh disable=SC1091
source "$ROOT/scripts/lib/setting.sh"

mask() { sed -E 's#(://[^:/@]*:)[^@/]*@#\1***@#g' <<<"$1"; }

# The environment Compose gets for ${…}: which Redis and database the apps use.
declare -a compose_env=()
if [[ "$mode" == app-only ]]; then
  database_url="$(setting DATABASE_URL)"; database_url="${database_url:-$(setting EXTERNAL_DATABASE_URL)}"
  redis_url="$(setting REDIS_URL)"; redis_url="${redis_url:-$(setting EXTERNAL_REDIS_URL)}"
  [[ -n "$database_url" && -n "$redis_url" ]] ||
    fail "--app-only needs DATABASE_URL and REDIS_URL (environment or ${ENV_FILE:-.env}) naming your database and Redis; or use --full" 2
  compose_env=("EXTERNAL_DATABASE_URL=$database_url" "EXTERNAL_REDIS_URL=$redis_url")
else
  # Empty wins over a value in .env, so the bundled services are always the ones used.
  compose_env=("EXTERNAL_DATABASE_URL=" "EXTERNAL_REDIS_URL=")
fi

compose=(docker compose)
# Prints a command (masked) when dry-running, else runs it with the Compose environment.
run() {
  if [[ -n "$dry_run" ]]; then
    local shown=() word
    for word in "${compose_env[@]}" "$@"; do shown+=("$(mask "$(printf '%q' "$word")")"); done
    say "${shown[*]}"
    return 0
  fi
  env "${compose_env[@]}" "$@"
}
env_file_args=()
# Compose reads .env next to the compose file by itself; another ENV_FILE is handed over.
if [[ -n "${ENV_FILE:-}" && -f "$ENV_FILE" ]]; then env_file_args=(--env-file "$ENV_FILE"); fi
dc() { run "${compose[@]}" -f "$COMPOSE_FILE" "${env_file_args[@]}" "$@"; }

version_at_least() { # $1 >= $2, both major.minor[.patch]
  local IFS=. have want
  read -r -a have <<<"$1"; read -r -a want <<<"$2"
  (( ${have[0]:-0} > ${want[0]:-0} || (${have[0]:-0} == ${want[0]:-0} && ${have[1]:-0} >= ${want[1]:-0}) ))
}

check_docker() {
  command -v docker >/dev/null || fail "docker not found on PATH: install Docker Engine and its Compose plugin (or run with --dry-run to see the commands)" 3
  local version
  if version="$(docker compose version --short 2>/dev/null)"; then
    compose=(docker compose)
  elif command -v docker-compose >/dev/null && version="$(docker-compose version --short 2>/dev/null)"; then
    compose=(docker-compose)
  else
    fail "Docker Compose not found: 'docker compose version' failed and there is no docker-compose; install the Compose plugin (v$MIN_COMPOSE or newer)" 3
  fi
  version="${version#v}"
  version_at_least "$version" "$MIN_COMPOSE" || fail "Docker Compose $version is too old: $COMPOSE_FILE needs v$MIN_COMPOSE or newer" 3
}

# `all` in full mode means the whole stack, Redis and PostgreSQL included.
whole_stack() { [[ "$mode" == full && "$target" == all ]]; }

backup() {
  if [[ "$mode" == app-only ]]; then
    run env "DATABASE_URL=$database_url" BACKUP_DIR="$BACKUP_DIR" bash "$ROOT/scripts/backup.sh"
    return
  fi
  # The bundled PostgreSQL: pg_dump inside its container (same major version as the server),
  # the same file name and format as scripts/backup.sh, so its restore commands apply.
  local out
  out="$BACKUP_DIR/conveyor-conveyor-$(date -u +%Y%m%dT%H%M%SZ).pgdump"
  local dump=(exec -T postgres pg_dump -U conveyor --format custom --compress 6 --no-owner conveyor)
  if [[ -n "$dry_run" ]]; then
    say "$(dc "${dump[@]}") > $(printf '%q' "$out")"
    return
  fi
  umask 077
  mkdir -p "$BACKUP_DIR"
  # Written under a temporary name and renamed when complete: a final name is always a whole dump.
  dc "${dump[@]}" >"$out.partial" || { rm -f "$out.partial"; fail "pg_dump in the postgres container failed (is the stack running? scripts/deploy.sh status)"; }
  mv "$out.partial" "$out"
  say "backup: $out ($(wc -c <"$out" | tr -d ' ') bytes)"
}

cd "$ROOT"
[[ -n "$dry_run" ]] || check_docker

case "$command" in
  build) dc build "${services[@]}" ;;
  start)
    if [[ "$mode" == app-only ]]; then
      dc run --rm --no-deps migrate
      dc up -d --no-deps "${services[@]}"
    elif whole_stack; then
      dc up -d
    else
      dc up -d "${services[@]}" # depends_on brings Redis, PostgreSQL and the migrations first
    fi
    ;;
  stop) if whole_stack; then dc stop; else dc stop "${services[@]}"; fi ;;
  restart) dc restart "${services[@]}" ;;
  status) if whole_stack; then dc ps --all; else dc ps --all "${services[@]}"; fi ;;
  logs)
    args=(logs --tail "$LINES" ${follow:+--follow})
    if whole_stack; then dc "${args[@]}"; else dc "${args[@]}" "${services[@]}"; fi
    ;;
  migrate)
    args=(run --rm)
    [[ "$mode" == app-only ]] && args+=(--no-deps)
    dc "${args[@]}" migrate ${revert:+--revert}
    ;;
  backup) backup ;;
esac
