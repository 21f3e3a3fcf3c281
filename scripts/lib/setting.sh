# shellcheck shell=bash
# Sourced by the operator scripts (start-worker.sh, deploy.sh); expects ROOT (the project folder).
#
# setting NAME [DEFAULT]: the value the apps will see: the environment first, then the env file
# (ENV_FILE, default .env, relative to ROOT), then DEFAULT.
setting() {
  local name="$1" default="${2:-}" value="${!1:-}"
  if [[ -z "$value" ]]; then
    local env_file="${ENV_FILE:-.env}"
    [[ "$env_file" = /* ]] || env_file="$ROOT/$env_file"
    if [[ -f "$env_file" ]]; then
      value="$(sed -n "s/^[[:space:]]*\(export[[:space:]]\+\)\?${name}[[:space:]]*=[[:space:]]*//p" "$env_file" | tail -n 1)"
      value="${value%\"}"; value="${value#\"}"; value="${value%\'}"; value="${value#\'}"
    fi
  fi
  printf '%s' "${value:-$default}"
}
