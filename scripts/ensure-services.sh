#!/usr/bin/env bash
# Makes sure the local services the test suites talk to are up: Redis on 127.0.0.1:6379,
# PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth, database test) and MariaDB on
# 127.0.0.1:3306 (root, empty password, database test).
# Also installs Debian's chromium, the headless browser of the dashboard e2e test, shellcheck, and
# promtool (Debian's prometheus package) for the alert-rule tests.
#
# Idempotent: a service that already answers is left alone. One that does not is installed from
# Debian's packages if its server is missing, started, provisioned (users, auth, database) and
# waited for. Needs root (or passwordless sudo) only when something has to be installed or
# started. Used by .ci/run and `npm run services`.
#
#   SERVICE_TIMEOUT   seconds to wait for each service to answer (default 60)
set -euo pipefail

TIMEOUT="${SERVICE_TIMEOUT:-60}"
export DEBIAN_FRONTEND=noninteractive

APT_UPDATED=0
FAILED=()

say() { printf 'ensure-services: %s\n' "$*"; }
status() { printf '  %-11s %-5s %s\n' "$1" "$2" "$3"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    say "need root to run: $*" >&2
    return 1
  fi
}

apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    say "$* is missing and this is not a Debian-like system: install it with your package manager" >&2
    return 1
  fi
  # One index refresh per run, and only when something is actually missing.
  if [ "$APT_UPDATED" -eq 0 ]; then
    as_root apt-get update -qq || return 1
    APT_UPDATED=1
  fi
  say "installing $*"
  as_root apt-get install -y -qq "$@" >/dev/null || return 1
}

# Plain TCP check, for when a service's own client is not installed.
tcp_open() {
  timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

redis_ok() {
  if command -v redis-cli >/dev/null 2>&1; then
    [ "$(timeout 5 redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]
  else
    tcp_open 127.0.0.1 6379
  fi
}

postgres_ok() {
  if command -v pg_isready >/dev/null 2>&1; then
    timeout 5 pg_isready -q -h 127.0.0.1 -p 5432
  else
    tcp_open 127.0.0.1 5432
  fi
}

mariadb_ok() {
  if command -v mysqladmin >/dev/null 2>&1; then
    # Exits 0 whenever the server answers, even if the login is refused: "up" is what we ask.
    timeout 5 mysqladmin --connect-timeout=3 -h127.0.0.1 -P3306 -uroot ping >/dev/null 2>&1
  else
    tcp_open 127.0.0.1 3306
  fi
}

# wait_for CHECK: polls until CHECK succeeds or TIMEOUT seconds have passed.
wait_for() {
  local deadline=$((SECONDS + TIMEOUT))
  until "$1"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}

show_log_tail() {
  local file
  for file in "$@"; do
    if [ -r "$file" ]; then
      say "last lines of $file:" >&2
      tail -n 15 "$file" >&2 || true
    fi
  done
}

ensure_redis() {
  if redis_ok; then status Redis ok "127.0.0.1:6379 (already running)"; return 0; fi
  local how=started
  if ! command -v redis-server >/dev/null 2>&1; then
    apt_install redis-server || return 1
    how="installed and started"
  fi
  # The package's own start-up (where init scripts run) may already have brought it up.
  if ! redis_ok; then
    as_root mkdir -p /var/lib/redis /var/log/redis || return 1
    # No persistence: test data is disposable. "-::1" binds IPv6 loopback only if it exists.
    as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || return 1
  fi
  if ! wait_for redis_ok; then
    show_log_tail /var/log/redis/ci.log
    return 1
  fi
  status Redis ok "127.0.0.1:6379 ($how)"
}

psql_tcp() {
  psql -h 127.0.0.1 -p 5432 -U postgres -w -X -q -At "$@"
}

ensure_postgres() {
  if postgres_ok; then status PostgreSQL ok "127.0.0.1:5432 (already running)"; return 0; fi
  local how=started version hba
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    apt_install postgresql || return 1
    how="installed and started"
  fi
  # The cluster to start: an existing "main" cluster, else a new one on the newest server.
  version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -z "$version" ] || [ ! -f "/etc/postgresql/$version/main/postgresql.conf" ]; then
    version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
    say "creating PostgreSQL $version cluster main"
    as_root pg_createcluster "$version" main >/dev/null || return 1
  fi
  # pg_createcluster takes the next free port when 5432 is busy at install time; the tests
  # look on 5432, and nothing answers there (checked above), so claim it.
  local port
  port="$(pg_conftool "$version" main show port 2>/dev/null | sed -nE 's/^port = ([0-9]+).*/\1/p' || true)"
  if [ -n "$port" ] && [ "$port" != 5432 ]; then
    say "cluster $version/main is configured for port $port; moving it to 5432"
    as_root pg_conftool "$version" main set port 5432 || return 1
  fi
  # Tests connect over TCP as postgres without a password. pg_hba.conf is read top-down, first
  # match wins, so the trust lines go first. Done before starting, so no reload is needed.
  hba="/etc/postgresql/$version/main/pg_hba.conf"
  if ! grep -Eq '^[[:space:]]*host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba"; then
    say "allowing passwordless TCP logins from 127.0.0.1 in $hba"
    local tmp
    tmp="$(mktemp)"
    { printf '# Added by scripts/ensure-services.sh: passwordless local TCP for tests\n'
      printf 'host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n'
      as_root cat "$hba"; } > "$tmp" || { rm -f "$tmp"; return 1; }
    # Rewritten in place (not moved over) so the file keeps its owner and mode.
    as_root sh -c 'cat "$1" > "$2"' sh "$tmp" "$hba" || { rm -f "$tmp"; return 1; }
    rm -f "$tmp"
  fi
  if ! postgres_ok; then
    # Running but not answering on 5432 (say, on its old port): restart to apply the settings.
    local action=start
    if pg_lsclusters -h "$version" main 2>/dev/null | grep -q online; then action=restart; fi
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main "$action" || true
  fi
  if ! wait_for postgres_ok; then
    show_log_tail "/var/log/postgresql/postgresql-$version-main.log"
    return 1
  fi
  if ! psql_tcp -d postgres -c 'select 1' >/dev/null; then
    say "PostgreSQL answers but user postgres cannot log in over TCP without a password ($hba)" >&2
    return 1
  fi
  if [ "$(psql_tcp -d postgres -c "select 1 from pg_database where datname = 'test'")" != "1" ]; then
    psql_tcp -d postgres -c 'create database test' || return 1
  fi
  status PostgreSQL ok "127.0.0.1:5432 ($how; PostgreSQL $version, database test)"
}

mysql_tcp() {
  mysql --connect-timeout=5 -h127.0.0.1 -P3306 -uroot "$@"
}

ensure_mariadb() {
  if mariadb_ok; then status MariaDB ok "127.0.0.1:3306 (already running)"; return 0; fi
  local how=started
  if [ ! -x /usr/sbin/mariadbd ]; then
    apt_install mariadb-server || return 1
    how="installed and started"
  fi
  # The package initialises the data directory; a wiped one is initialised again here.
  if [ ! -d /var/lib/mysql/mysql ]; then
    say "initialising the MariaDB data directory"
    as_root mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null || return 1
  fi
  # Normally made by the init system; mariadbd puts its socket and pid file here.
  as_root install -d -o mysql -g mysql /run/mysqld || return 1
  if ! mariadb_ok; then
    # --user: Debian's stock config leaves "user = mysql" commented out, and as root mariadbd
    # refuses to start without it.
    as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql || return 1
  fi
  if ! wait_for mariadb_ok; then
    show_log_tail /var/log/mysql/error.log
    return 1
  fi
  # A fresh install lets root in only through the unix socket (unix_socket auth); tests log in
  # over TCP with an empty password. Keep socket auth as an alternative. 127.0.0.1 gets its own
  # account because with skip-name-resolve TCP logins do not match root@localhost.
  if ! mysql_tcp -e 'select 1' >/dev/null 2>&1; then
    say "allowing root to log in over TCP without a password"
    as_root mysql -uroot -e "
      ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket;
      CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD('');
      GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
      FLUSH PRIVILEGES;" || return 1
  fi
  mysql_tcp -e 'CREATE DATABASE IF NOT EXISTS test' || return 1
  status MariaDB ok "127.0.0.1:3306 ($how; database test)"
}

# Not a service: the browser the dashboard e2e test drives (playwright-core, /usr/bin/chromium).
ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then status Chromium ok "/usr/bin/chromium (already installed)"; return 0; fi
  apt_install chromium || return 1
  status Chromium ok "/usr/bin/chromium (installed)"
}

# Not a service: the linter the ops tests run over the shell scripts (deploy.sh, the entry point).
ensure_shellcheck() {
  if command -v shellcheck >/dev/null 2>&1; then status shellcheck ok "$(command -v shellcheck) (already installed)"; return 0; fi
  apt_install shellcheck || return 1
  status shellcheck ok "$(command -v shellcheck) (installed)"
}

# Not a service: promtool checks and unit-tests k8s/monitoring's alert rules. Debian's package
# also brings the Prometheus server, which the tests never run: stop it if the install started it.
ensure_promtool() {
  if command -v promtool >/dev/null 2>&1; then status promtool ok "$(command -v promtool) (already installed)"; return 0; fi
  apt_install prometheus || return 1
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
    as_root systemctl disable --now prometheus >/dev/null 2>&1 || true
  elif command -v service >/dev/null 2>&1; then
    as_root service prometheus stop >/dev/null 2>&1 || true
  fi
  status promtool ok "$(command -v promtool) (installed)"
}

# Not a service: the client the curl guide's test runs (docs/guides/curl.md).
ensure_curl() {
  if command -v curl >/dev/null 2>&1; then status curl ok "$(command -v curl) (already installed)"; return 0; fi
  apt_install curl || return 1
  status curl ok "$(command -v curl) (installed)"
}

say "checking local services"
ensure_redis || { status Redis FAIL "could not bring up Redis on 127.0.0.1:6379"; FAILED+=(Redis); }
ensure_postgres || { status PostgreSQL FAIL "could not bring up PostgreSQL on 127.0.0.1:5432"; FAILED+=(PostgreSQL); }
ensure_mariadb || { status MariaDB FAIL "could not bring up MariaDB on 127.0.0.1:3306"; FAILED+=(MariaDB); }
ensure_chromium || { status Chromium FAIL "could not install chromium"; FAILED+=(Chromium); }
ensure_shellcheck || { status shellcheck FAIL "could not install shellcheck"; FAILED+=(shellcheck); }
ensure_promtool || { status promtool FAIL "could not install prometheus (promtool)"; FAILED+=(promtool); }
ensure_curl || { status curl FAIL "could not install curl"; FAILED+=(curl); }

if [ "${#FAILED[@]}" -gt 0 ]; then
  say "not available: ${FAILED[*]} (see the messages above)" >&2
  exit 1
fi
