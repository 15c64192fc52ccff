#!/usr/bin/env bash
# `make cluster` / `make cluster-stop`: two `madoguchi serve` replicas behind our own nginx, on the
# machine's PostgreSQL and Redis. Everything this starts has a pid file in $CLUSTER_DIR, so `stop`
# ends exactly these processes. `start` is idempotent: it starts only the pieces that are not running.
#
#   scripts/cluster.sh start | stop | status
#
# Settings (environment; defaults are what `make cluster` uses):
#   CLUSTER_DIR            var/cluster        pid files, logs, the rendered nginx.conf
#   CLUSTER_LISTEN         127.0.0.1:8080     where nginx listens
#   CLUSTER_PORTS          "5006 5007"        one replica per port (MADOGUCHI_PORT), on 127.0.0.1
#   CLUSTER_POSTGRES       postgresql://postgres@127.0.0.1:5432   the server; database created if absent
#   CLUSTER_DATABASE       madoguchi          → MADOGUCHI_DATABASE_URL (unless that is set)
#   MADOGUCHI_REDIS_URL    redis://127.0.0.1:6379/0
#   CLUSTER_READY_TIMEOUT  600                seconds to wait for every replica's /health/ready
#   CLUSTER_STOP_TIMEOUT   MADOGUCHI_GRACEFUL_SHUTDOWN_SECONDS + 10: then a replica is killed
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
CLUSTER_DIR=$(mkdir -p "${CLUSTER_DIR:-var/cluster}" && cd "${CLUSTER_DIR:-var/cluster}" && pwd)
CLUSTER_LISTEN=${CLUSTER_LISTEN:-127.0.0.1:8080}
CLUSTER_PORTS=${CLUSTER_PORTS:-5006 5007}
CLUSTER_POSTGRES=${CLUSTER_POSTGRES:-postgresql://postgres@127.0.0.1:5432}
CLUSTER_DATABASE=${CLUSTER_DATABASE:-madoguchi}
CLUSTER_READY_TIMEOUT=${CLUSTER_READY_TIMEOUT:-600}
CLUSTER_STOP_TIMEOUT=${CLUSTER_STOP_TIMEOUT:-$(( ${MADOGUCHI_GRACEFUL_SHUTDOWN_SECONDS:-15} + 10 ))}
export MADOGUCHI_DATABASE_URL=${MADOGUCHI_DATABASE_URL:-$CLUSTER_POSTGRES/$CLUSTER_DATABASE}
export MADOGUCHI_REDIS_URL=${MADOGUCHI_REDIS_URL:-redis://127.0.0.1:6379/0}
export MADOGUCHI_TRUSTED_PROXIES=1  # nginx is the one proxy whose X-Forwarded-For names the client
export RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=2

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
fail() { printf 'cluster: %s\n' "$*" >&2; exit 1; }

alive() {  # alive PIDFILE: the process named in the pid file runs
  [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

ensure_database() {
  command -v psql >/dev/null || fail "psql not found: run \`make setup\` (installs postgresql)"
  psql "$CLUSTER_POSTGRES/postgres" -qtAc 'select 1' >/dev/null 2>&1 \
    || fail "PostgreSQL does not answer at $CLUSTER_POSTGRES (start it: pg_ctlcluster 15 main start)"
  redis-cli -u "$MADOGUCHI_REDIS_URL" ping 2>/dev/null | grep -q PONG \
    || fail "Redis does not answer at $MADOGUCHI_REDIS_URL (start it: redis-server --daemonize yes)"
  if [ -z "$(psql "$CLUSTER_POSTGRES/postgres" -qtAc "select 1 from pg_database where datname = '$CLUSTER_DATABASE'")" ]; then
    say "creating database $CLUSTER_DATABASE"
    psql "$CLUSTER_POSTGRES/postgres" -qc "create database \"$CLUSTER_DATABASE\"" >/dev/null
  fi
}

start_replica() {  # start_replica PORT
  local port=$1 pidfile="$CLUSTER_DIR/replica-$1.pid"
  if alive "$pidfile"; then say "replica :$port already running (pid $(cat "$pidfile"))"; return; fi
  say "starting replica on 127.0.0.1:$port (log $CLUSTER_DIR/replica-$port.log)"
  # setsid: the replica outlives the terminal or `make` that started it; `stop` ends it by pid.
  MADOGUCHI_HOST=127.0.0.1 MADOGUCHI_PORT=$port setsid "$PY" -m bot.cli serve \
    >"$CLUSTER_DIR/replica-$port.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
}

wait_ready() {  # wait_ready PORT: until /health/ready answers 200 (model loaded, database and Redis reachable)
  local port=$1 deadline=$(( SECONDS + CLUSTER_READY_TIMEOUT ))
  until curl -fsS -o /dev/null "http://127.0.0.1:$port/health/ready" 2>/dev/null; do
    alive "$CLUSTER_DIR/replica-$port.pid" || { tail -n 40 "$CLUSTER_DIR/replica-$port.log" >&2; fail "replica :$port exited"; }
    [ "$SECONDS" -lt "$deadline" ] || fail "replica :$port not ready after ${CLUSTER_READY_TIMEOUT}s (see its log)"
    sleep 1
  done
  say "replica :$port ready"
}

render_nginx_conf() {
  local upstream="" port template
  for port in $CLUSTER_PORTS; do
    upstream+="        server 127.0.0.1:$port max_fails=1 fail_timeout=5s;"$'\n'
  done
  template=$(<deploy/nginx/madoguchi.conf.template)
  template=${template//@CLUSTER_DIR@/$CLUSTER_DIR}
  template=${template//@LISTEN@/$CLUSTER_LISTEN}
  template=${template//@UPSTREAM_SERVERS@/${upstream%$'\n'}}
  mkdir -p "$CLUSTER_DIR/nginx-temp"
  printf '%s\n' "$template" >"$CLUSTER_DIR/nginx.conf"
}

start_nginx() {
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || fail "nginx not found: run \`make setup\`"
  local nginx; nginx=$(command -v nginx || echo /usr/sbin/nginx)
  render_nginx_conf
  "$nginx" -t -q -p "$CLUSTER_DIR" -e "$CLUSTER_DIR/nginx-error.log" -c "$CLUSTER_DIR/nginx.conf"
  if alive "$CLUSTER_DIR/nginx.pid"; then
    "$nginx" -p "$CLUSTER_DIR" -e "$CLUSTER_DIR/nginx-error.log" -c "$CLUSTER_DIR/nginx.conf" -s reload
  else
    "$nginx" -p "$CLUSTER_DIR" -e "$CLUSTER_DIR/nginx-error.log" -c "$CLUSTER_DIR/nginx.conf"
  fi
  curl -fsS -o /dev/null "http://$CLUSTER_LISTEN/health/ready" || fail "nginx on $CLUSTER_LISTEN does not reach the replicas"
}

cmd_start() {
  ensure_database
  say "training if the catalog changed (like \`make run\`)"
  "$PY" -m bot.cli train
  local port
  for port in $CLUSTER_PORTS; do start_replica "$port"; done
  for port in $CLUSTER_PORTS; do wait_ready "$port"; done
  start_nginx
  say "madoguchi cluster on http://$CLUSTER_LISTEN/ (replicas: $CLUSTER_PORTS; stop: make cluster-stop)"
}

stop_pids() {  # stop_pids SIGNAL PIDFILE...: signal them all at once, then wait (kill what outlives the timeout)
  local signal=$1 pidfile pid deadline=$(( SECONDS + CLUSTER_STOP_TIMEOUT )); shift
  local -a pids=()
  for pidfile in "$@"; do
    if alive "$pidfile"; then
      pid=$(cat "$pidfile"); say "stopping $(basename "$pidfile" .pid) (pid $pid)"; kill "-$signal" "$pid" || true; pids+=("$pid")
    fi
  done
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null; do
      if [ "$SECONDS" -ge "$deadline" ]; then say "pid $pid did not stop in ${CLUSTER_STOP_TIMEOUT}s: killing it"; kill -KILL "$pid" 2>/dev/null || true; fi
      sleep 0.2
    done
  done
  rm -f "$@"
}

cmd_stop() {
  # nginx first (no new turns reach the replicas), then the replicas: SIGTERM lets in-flight turns finish.
  stop_pids QUIT "$CLUSTER_DIR/nginx.pid"
  local -a replicas=()
  for pidfile in "$CLUSTER_DIR"/replica-*.pid; do [ -e "$pidfile" ] && replicas+=("$pidfile"); done
  [ "${#replicas[@]}" -eq 0 ] || stop_pids TERM "${replicas[@]}"
}

cmd_status() {
  local pidfile state=0
  for pidfile in "$CLUSTER_DIR"/nginx.pid "$CLUSTER_DIR"/replica-*.pid; do
    [ -e "$pidfile" ] || continue
    if alive "$pidfile"; then echo "$(basename "$pidfile" .pid): running (pid $(cat "$pidfile"))"
    else echo "$(basename "$pidfile" .pid): not running"; state=1; fi
  done
  return $state
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
