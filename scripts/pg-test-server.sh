#!/usr/bin/env bash
# Start a throwaway PostgreSQL 15 cluster for the store tests, then print the URI to export:
#
#   export TANDEM_TEST_PG_URI=$(scripts/pg-test-server.sh)
#   npx vitest run test/unit/store
#
# Listens on 127.0.0.1:${PGTEST_PORT:-55432} with trust auth, data in ${PGTEST_DIR:-/tmp/tandem-pg-test}.
# Fast and not crash-safe (fsync off) unless PGTEST_DURABLE=1 (the benchmark's default: commits
# wait for the disk, as in production).
# Postgres refuses to run as root, so the server runs as the `postgres` user. Installs the
# Debian package when it is missing (needs root). Idempotent: when the cluster is already
# running it only prints the URI. `scripts/pg-test-server.sh stop` stops it and deletes the data.
# Progress goes to stderr; stdout carries only the URI.
set -euo pipefail

PORT="${PGTEST_PORT:-55432}"
DIR="${PGTEST_DIR:-/tmp/tandem-pg-test}"
PGUSER_OS="${PGTEST_OS_USER:-postgres}"
URI="postgres://postgres@127.0.0.1:${PORT}/postgres"

log() { echo "pg-test-server: $*" >&2; }

find_bin() {
  for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin /usr/local/pgsql/bin; do
    if [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  return 1
}

as_pg() {
  if [ "$(id -un)" = "$PGUSER_OS" ]; then "$@"
  elif command -v runuser >/dev/null 2>&1; then runuser -u "$PGUSER_OS" -- "$@"
  else su "$PGUSER_OS" -s /bin/sh -c "$(printf '%q ' "$@")"
  fi
}

BIN="$(find_bin || true)"
if [ -z "$BIN" ]; then
  if [ "$(id -u)" != 0 ]; then log "PostgreSQL is not installed and I am not root: install postgresql-15"; exit 1; fi
  log "installing PostgreSQL (apt-get)…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update >&2 && apt-get install -y postgresql >&2
  BIN="$(find_bin)"
fi

if [ "${1:-}" = "stop" ]; then
  if [ -f "$DIR/data/postmaster.pid" ]; then as_pg "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >&2 || true; fi
  rm -rf "$DIR"
  log "stopped"
  exit 0
fi

if [ "$(id -u)" = 0 ] && ! id "$PGUSER_OS" >/dev/null 2>&1; then
  log "creating OS user $PGUSER_OS"
  useradd --system --home-dir "$DIR" --shell /bin/sh "$PGUSER_OS"
fi

if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" 2>/dev/null; then
  log "already running on 127.0.0.1:$PORT"
  echo "$URI"
  exit 0
fi

mkdir -p "$DIR"
if [ "$(id -u)" = 0 ]; then chown "$PGUSER_OS" "$DIR"; fi
chmod 700 "$DIR"

if [ ! -f "$DIR/data/PG_VERSION" ]; then
  log "initdb in $DIR/data"
  as_pg "$BIN/initdb" -D "$DIR/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >&2 \
    || as_pg "$BIN/initdb" -D "$DIR/data" -U postgres --auth=trust --encoding=UTF8 --no-locale >&2
fi

# Fast and disposable: no fsync (unless PGTEST_DURABLE=1); sockets in the data dir (not /var/run/postgresql).
SPEED="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
if [ "${PGTEST_DURABLE:-}" = 1 ]; then SPEED=""; fi
as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 30 \
  -o "-h 127.0.0.1 -p $PORT -k $DIR $SPEED -c max_connections=200" \
  start >&2 || { log "start failed; see $DIR/server.log"; tail -n 20 "$DIR/server.log" >&2 || true; exit 1; }

log "running on 127.0.0.1:$PORT (data in $DIR; stop with: $0 stop)"
echo "$URI"
