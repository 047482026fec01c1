#!/usr/bin/env bash
# Throwaway PostgreSQL server for CI.
#
#   scripts/ci-postgres.sh start <dir>   # prints exactly one line: postgres://postgres@127.0.0.1:PORT/postgres
#   scripts/ci-postgres.sh stop <dir>    # stops the server started into <dir> (by its recorded PID)
#
# <dir> must be a directory the postgres OS user can reach (e.g. from `mktemp -d`, chmod 755).
# The data dir, log, socket and pg.pid all live in <dir>. Everything but the URL goes to stderr.
set -euo pipefail

log() { echo "ci-postgres: $*" >&2; }
die() { log "$*"; exit 1; }

as_postgres() { runuser -u postgres -- "$@"; }

find_pg_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

ensure_binaries() {
  local bin
  bin=$(find_pg_bin || true)
  if [[ -z "$bin" || ! -x "$bin/initdb" ]]; then
    log "PostgreSQL binaries not found; installing with apt-get"
    [[ $(id -u) -eq 0 ]] || die "need root to apt-get install postgresql"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2
    bin=$(find_pg_bin || true)
    [[ -n "$bin" && -x "$bin/initdb" ]] || die "postgresql install did not provide initdb"
  fi
  local major
  major=$(basename "$(dirname "$bin")")
  [[ "${major%%.*}" -ge 15 ]] || die "PostgreSQL >= 15 required, found $major at $bin"
  if ! id postgres >/dev/null 2>&1; then
    log "creating system user postgres"
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
  echo "$bin"
}

free_port() {
  node -e '
    const s = require("node:net").createServer();
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => console.log(port)); });
  '
}

# Make every parent of $1 traversable by others (mktemp -d creates 700 dirs).
open_parents() {
  local d
  d=$(cd "$1" && pwd -P)
  while [[ "$d" != "/" ]]; do
    chmod o+x "$d"
    d=$(dirname "$d")
  done
}

cmd_start() {
  local dir=$1
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd -P)
  [[ ! -e "$dir/pg.pid" ]] || die "$dir/pg.pid exists: a server may already run there (stop it first)"

  local bin
  bin=$(ensure_binaries)
  log "using $("$bin/postgres" --version)"

  chmod 755 "$dir"
  open_parents "$dir"
  chown postgres: "$dir"
  local data="$dir/data"
  as_postgres mkdir -m 700 "$data"

  as_postgres "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >&2 \
    || as_postgres "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --no-locale >&2

  local port attempt
  for attempt in 1 2 3; do
    port=$(free_port)
    log "starting on 127.0.0.1:$port (attempt $attempt)"
    if as_postgres "$bin/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t 60 start \
      -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >&2; then
      head -n 1 "$data/postmaster.pid" > "$dir/pg.pid"
      log "postmaster pid $(cat "$dir/pg.pid"), log $dir/postgres.log"
      echo "postgres://postgres@127.0.0.1:$port/postgres"
      return 0
    fi
    log "start failed; log tail:"
    tail -n 20 "$dir/postgres.log" >&2 || true
  done
  die "could not start PostgreSQL"
}

cmd_stop() {
  local dir=$1
  local pid bin
  if [[ -f "$dir/pg.pid" ]]; then
    pid=$(cat "$dir/pg.pid")
  elif [[ -f "$dir/data/postmaster.pid" ]]; then
    pid=$(head -n 1 "$dir/data/postmaster.pid") # start failed after the postmaster came up
  else
    log "no $dir/pg.pid: nothing to stop"
    return 0
  fi
  [[ "$pid" =~ ^[0-9]+$ ]] || die "bad pid '$pid' in $dir"
  bin=$(find_pg_bin || true)
  if [[ -n "$bin" && -d "$dir/data" ]] && as_postgres "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >&2; then
    log "stopped (pid $pid)"
  elif kill -0 "$pid" 2>/dev/null; then
    log "pg_ctl stop failed; sending SIGINT (fast shutdown) to pid $pid"
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "still running; SIGKILL pid $pid"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$dir/pg.pid"
}

case "${1:-}" in
  start) [[ $# -eq 2 ]] || die "usage: $0 start <dir>"; cmd_start "$2" ;;
  stop) [[ $# -eq 2 ]] || die "usage: $0 stop <dir>"; cmd_stop "$2" ;;
  *) die "usage: $0 start|stop <dir>" ;;
esac
