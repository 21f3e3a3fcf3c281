#!/usr/bin/env bash
# Backs up Conveyor's task ledger, the SQL database (PostgreSQL or MySQL/MariaDB), to a file:
#
#   scripts/backup.sh            dump to $BACKUP_DIR, keep the newest $BACKUP_KEEP dumps of that database
#
# The database comes from DATABASE_URL (or DB_TYPE/DB_HOST/DB_PORT/DB_USERNAME/DB_PASSWORD/
# DB_DATABASE), from the environment, then <project>/.env (ENV_FILE), as the apps read it.
#   BACKUP_DIR   default <project>/data/backups
#   BACKUP_KEEP  default 14 (0 keeps every dump)
# Needs the database's client tools: pg_dump (same major version as the server, or newer), or
# mariadb-dump/mysqldump; and Node (the project's, or on PATH) to read the settings.
#
# Output: conveyor-<database>-<UTC time>.pgdump (pg_dump custom format, compressed) or .sql.gz
# (a single-transaction dump). Written to a temporary name and renamed when complete, so a file
# with the final name is always a whole dump. Restore:
#   pg_restore --clean --if-exists --no-owner -d "$DATABASE_URL" conveyor-….pgdump
#   gunzip -c conveyor-….sql.gz | mariadb -h HOST -u USER -p DATABASE   (any database name)
#
# Redis is not backed up here, on purpose: it holds the queue, the ledger holds the truth. Run
# Redis with AOF persistence (appendonly yes, as docker-compose.worker.yml does) so queued jobs
# survive restarts; copy its appendonlydir/ if you want Redis snapshots too. After a Redis loss,
# or after restoring the ledger from a backup, the worker's reconciler re-queues every task the
# ledger still expects to run whose job is missing (RECONCILE_INTERVAL_MS, RECONCILE_MIN_AGE_MS).
#
# Exit codes: 0 ok; 1 the dump failed; 2 bad configuration.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BACKUP_DIR="${BACKUP_DIR:-$ROOT/data/backups}"
BACKUP_KEEP="${BACKUP_KEEP:-14}"

if [[ -x "$ROOT/node_modules/.bin/node" ]]; then NODE_BIN="$ROOT/node_modules/.bin/node"; else NODE_BIN="node"; fi

fail() { printf 'backup: %s\n' "$*" >&2; exit "${2:-1}"; }

[[ "$BACKUP_KEEP" =~ ^[0-9]+$ ]] || fail "BACKUP_KEEP must be a whole number" 2

# The connection, one value a line, decoded the way the apps decode it (URL escapes, DB_*
# fallback, .env below the real environment).
# shellcheck disable=SC2016 # JavaScript, not shell
settings="$(
  cd "$ROOT" && "$NODE_BIN" -e '
    const fs = require("node:fs");
    const file = process.env.ENV_FILE || ".env";
    const fileEnv = fs.existsSync(file) ? require("node:util").parseEnv(fs.readFileSync(file, "utf8")) : {};
    const get = (k) => process.env[k] || fileEnv[k] || "";
    const stop = (message) => { console.error(message); process.exit(2); };
    const yes = (v) => /^(true|1|yes|on)$/i.test(v);
    let c;
    if (get("DATABASE_URL")) {
      let url;
      try { url = new URL(get("DATABASE_URL")); } catch { stop("DATABASE_URL is not a URL"); }
      const scheme = url.protocol.slice(0, -1);
      const type = /^postgres(ql)?$/.test(scheme) ? "postgres" : /^(mysql|mariadb)$/.test(scheme) ? "mysql" : stop(`DATABASE_URL: unsupported scheme ${scheme}`);
      const sslmode = url.searchParams.get("sslmode") || "";
      c = [type, url.hostname.replace(/^\[(.*)\]$/, "$1"), url.port || (type === "postgres" ? "5432" : "3306"),
           decodeURIComponent(url.username), decodeURIComponent(url.password),
           decodeURIComponent(url.pathname.slice(1)) || "conveyor", /^(require|verify-ca|verify-full)$/.test(sslmode) || yes(url.searchParams.get("ssl") || "")];
    } else if (get("DB_HOST")) {
      const type = /^(mysql|mariadb)$/.test(get("DB_TYPE")) ? "mysql" : "postgres";
      c = [type, get("DB_HOST"), get("DB_PORT") || (type === "postgres" ? "5432" : "3306"), get("DB_USERNAME"),
           get("DB_PASSWORD"), get("DB_DATABASE") || "conveyor", false];
    } else stop("set DATABASE_URL (or DB_HOST and the other DB_* keys): nothing to back up");
    c[6] = c[6] || yes(get("DB_SSL"));
    if (c.some((v) => /[\n\r]/.test(String(v)))) stop("database settings must not contain line breaks");
    process.stdout.write(c.join("\n") + "\n");
  '
)" || exit $?
{ read -r DB_TYPE; read -r DB_HOST; read -r DB_PORT; read -r DB_USER; read -r DB_PASSWORD; read -r DB_DATABASE; read -r DB_SSL; } <<<"$settings"

# Dumps hold the data: readable by their owner only.
umask 077
mkdir -p "$BACKUP_DIR"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
safe_db="$(printf '%s' "$DB_DATABASE" | tr -c 'A-Za-z0-9_.-' '_')"
base="conveyor-$safe_db-$stamp"
tmp_dir="$(mktemp -d "$BACKUP_DIR/.backup.XXXXXX")"
trap 'rm -rf "$tmp_dir"' EXIT

started=$SECONDS
if [[ "$DB_TYPE" == postgres ]]; then
  command -v pg_dump >/dev/null || fail "pg_dump not found (Debian: apt-get install postgresql-client)"
  out="$BACKUP_DIR/$base.pgdump"
  PGPASSWORD="$DB_PASSWORD" PGSSLMODE="$([[ "$DB_SSL" == true ]] && echo require || echo prefer)" \
    pg_dump --host "$DB_HOST" --port "$DB_PORT" ${DB_USER:+--username "$DB_USER"} --no-password \
    --format custom --compress 6 --no-owner --file "$tmp_dir/dump" "$DB_DATABASE" ||
    fail "pg_dump of $DB_DATABASE on $DB_HOST:$DB_PORT failed"
else
  dump="$(command -v mariadb-dump || command -v mysqldump)" || fail "mariadb-dump/mysqldump not found (Debian: apt-get install mariadb-client)"
  out="$BACKUP_DIR/$base.sql.gz"
  # The password goes in a private options file, never on the command line.
  {
    printf '[client]\n'
    printf 'host=%s\nport=%s\n' "$DB_HOST" "$DB_PORT"
    [[ -n "$DB_USER" ]] && printf 'user=%s\n' "$DB_USER"
    [[ -n "$DB_PASSWORD" ]] && printf 'password="%s"\n' "$(printf '%s' "$DB_PASSWORD" | sed 's/\\/\\\\/g; s/"/\\"/g')"
    if [[ "$DB_SSL" == true ]]; then
      if "$dump" --version | grep -qi mariadb; then printf 'ssl\n'; else printf 'ssl-mode=REQUIRED\n'; fi
    fi
  } >"$tmp_dir/client.cnf"
  "$dump" --defaults-extra-file="$tmp_dir/client.cnf" --single-transaction --quick --routines --triggers \
    --no-tablespaces "$DB_DATABASE" >"$tmp_dir/dump.sql" ||
    fail "$(basename "$dump") of $DB_DATABASE on $DB_HOST:$DB_PORT failed"
  gzip -6 "$tmp_dir/dump.sql"
  mv "$tmp_dir/dump.sql.gz" "$tmp_dir/dump"
fi
mv "$tmp_dir/dump" "$out"
printf 'backup: %s (%s bytes, %ss)\n' "$out" "$(wc -c <"$out" | tr -d ' ')" "$(( SECONDS - started ))"

# Retention: the newest BACKUP_KEEP dumps of this database stay (names sort by time).
if (( BACKUP_KEEP > 0 )); then
  shopt -s nullglob
  dumps=("$BACKUP_DIR/conveyor-$safe_db-"*Z.pgdump "$BACKUP_DIR/conveyor-$safe_db-"*Z.sql.gz)
  mapfile -t old < <(printf '%s\n' "${dumps[@]}" | sort -r | tail -n +$(( BACKUP_KEEP + 1 )))
  for file in "${old[@]}"; do
    [[ -n "$file" ]] || continue
    rm -f "$file"
    printf 'backup: removed %s (BACKUP_KEEP=%s)\n' "$(basename "$file")" "$BACKUP_KEEP"
  done
fi
