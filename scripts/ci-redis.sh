#!/usr/bin/env bash
# Throwaway Redis server for CI.
#
#   scripts/ci-redis.sh start <dir>   # prints exactly one line: redis://127.0.0.1:PORT
#   scripts/ci-redis.sh stop <dir>    # stops the server started into <dir> (by its recorded PID)
#
# Nothing is persisted (no RDB, no AOF). The log and redis.pid live in <dir>. Everything but the
# URL goes to stderr.
set -euo pipefail

log() { echo "ci-redis: $*" >&2; }
die() { log "$*"; exit 1; }

ensure_binary() {
  if ! command -v redis-server >/dev/null 2>&1; then
    log "redis-server not found; installing with apt-get"
    [[ $(id -u) -eq 0 ]] || die "need root to apt-get install redis-server"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >&2
    command -v redis-server >/dev/null 2>&1 || die "redis-server install did not provide redis-server"
  fi
}

free_port() {
  node -e '
    const s = require("node:net").createServer();
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => console.log(port)); });
  '
}

# Resolves once the port answers PING with PONG (no redis-cli needed).
wait_for_pong() {
  PORT=$1 node -e '
    const net = require("node:net");
    const deadline = Date.now() + 15000;
    const attempt = () => {
      const s = net.connect(Number(process.env.PORT), "127.0.0.1");
      s.setTimeout(1000);
      s.once("connect", () => s.write("PING\r\n"));
      s.once("data", (d) => { s.destroy(); process.exit(d.toString().startsWith("+PONG") ? 0 : 1); });
      const retry = () => { s.destroy(); if (Date.now() > deadline) process.exit(1); setTimeout(attempt, 100); };
      s.once("error", retry);
      s.once("timeout", retry);
    };
    attempt();
  '
}

cmd_start() {
  local dir=$1
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd -P)
  [[ ! -e "$dir/redis.pid" ]] || die "$dir/redis.pid exists: a server may already run there (stop it first)"

  ensure_binary
  log "using $(redis-server --version)"

  local port attempt pid
  for attempt in 1 2 3; do
    port=$(free_port)
    log "starting on 127.0.0.1:$port (attempt $attempt)"
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
      --dir "$dir" --logfile "$dir/redis.log" </dev/null >/dev/null 2>&1 &
    pid=$!
    if wait_for_pong "$port" && kill -0 "$pid" 2>/dev/null; then
      echo "$pid" > "$dir/redis.pid"
      log "redis-server pid $pid, log $dir/redis.log"
      echo "redis://127.0.0.1:$port"
      return 0
    fi
    log "start failed; log tail:"
    tail -n 20 "$dir/redis.log" >&2 || true
    kill -TERM "$pid" 2>/dev/null || true
  done
  die "could not start Redis"
}

cmd_stop() {
  local dir=$1
  local pid
  if [[ ! -f "$dir/redis.pid" ]]; then
    log "no $dir/redis.pid: nothing to stop"
    return 0
  fi
  pid=$(cat "$dir/redis.pid")
  [[ "$pid" =~ ^[0-9]+$ ]] || die "bad pid '$pid' in $dir"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "still running; SIGKILL pid $pid"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  log "stopped (pid $pid)"
  rm -f "$dir/redis.pid"
}

case "${1:-}" in
  start) [[ $# -eq 2 ]] || die "usage: $0 start <dir>"; cmd_start "$2" ;;
  stop) [[ $# -eq 2 ]] || die "usage: $0 stop <dir>"; cmd_stop "$2" ;;
  *) die "usage: $0 start|stop <dir>" ;;
esac
