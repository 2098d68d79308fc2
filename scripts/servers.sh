#!/bin/bash
# Starts the servers the test suite uses, each on a loopback port of its own,
# with its data under one folder, and prints the environment that tells the
# tests where they are:
#
#   eval "$(scripts/servers.sh start)"    # exports SESSIONCTL_TEST_* variables
#   scripts/servers.sh stop
#
# Redis (redis-server), Redis in TLS-only mode (rediss://, with a test CA and
# certificates scripts/test_certs.sh makes), two memcacheds and a PostgreSQL cluster
# (as the postgres user when run as root). A server whose program is missing is left out with a
# note on stderr; the tests then skip, except under CI=true, where they fail.
set -euo pipefail

state=${SESSIONCTL_SERVERS_DIR:-/tmp/sessionctl-test-servers}
redis_port=${SESSIONCTL_TEST_REDIS_PORT:-6391}
redis_tls_port=${SESSIONCTL_TEST_REDIS_TLS_PORT:-6392}
memcached_port=${SESSIONCTL_TEST_MEMCACHED_PORT:-11291}
memcached2_port=${SESSIONCTL_TEST_MEMCACHED2_PORT:-11292}  # a second one: keys spread over two servers
pg_port=${SESSIONCTL_TEST_PG_PORT:-5491}
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)

note() { echo "servers.sh: $*" >&2; }

wait_for() {  # wait_for DESCRIPTION COMMAND...
  local what=$1
  shift
  for _ in $(seq 1 100); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  note "$what did not start"
  return 1
}

start_redis() {
  command -v redis-server >/dev/null || { note "redis-server not installed"; return 0; }
  mkdir -p "$state/redis"
  redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$state/redis" --save '' --appendonly no \
    --daemonize yes --pidfile "$state/redis/redis.pid" --logfile "$state/redis/redis.log" >&2
  wait_for "redis-server" redis-cli -p "$redis_port" ping
  echo "export SESSIONCTL_TEST_REDIS=redis://127.0.0.1:$redis_port"
}

# TLS only (--port 0): a client must speak TLS and trust the test CA; client
# certificates are accepted but not required, as on managed Redis.
start_redis_tls() {
  command -v redis-server >/dev/null || { note "redis-server not installed"; return 0; }
  command -v openssl >/dev/null || { note "openssl not installed (TLS Redis left out)"; return 0; }
  local dir=$state/redis-tls certs=$state/redis-tls/certs
  mkdir -p "$dir"
  "$(dirname -- "$0")/test_certs.sh" "$certs"
  redis-server --bind 127.0.0.1 --port 0 --tls-port "$redis_tls_port" --tls-cert-file "$certs/server.crt" \
    --tls-key-file "$certs/server.key" --tls-ca-cert-file "$certs/ca.crt" --tls-auth-clients optional \
    --dir "$dir" --save '' --appendonly no \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >&2
  wait_for "redis-server (TLS)" redis-cli --tls --cacert "$certs/ca.crt" -h localhost -p "$redis_tls_port" ping
  echo "export SESSIONCTL_TEST_REDIS_TLS=rediss://localhost:$redis_tls_port"
  echo "export SESSIONCTL_TEST_REDIS_TLS_CERTS=$certs"
}

start_memcached() {  # start_memcached NAME PORT VARIABLE
  local name=$1 port=$2 variable=$3
  command -v memcached >/dev/null || { note "memcached not installed"; return 0; }
  local user=()
  mkdir -p "$state/$name"
  # As root, memcached runs as nobody, which must be able to write its pid file.
  if [ "$(id -u)" -eq 0 ]; then user=(-u nobody); chown nobody "$state/$name"; fi
  memcached -d -l 127.0.0.1 -p "$port" -U 0 -m 64 "${user[@]}" -P "$state/$name/memcached.pid" >&2
  wait_for "$name" bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
  echo "export $variable=127.0.0.1:$port"
}

as_pg_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgres() {
  [ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] || { note "PostgreSQL server not installed"; return 0; }
  local data=$state/pg
  mkdir -p "$data"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$state/pg"
  if [ ! -f "$data/PG_VERSION" ]; then
    as_pg_owner "$pg_bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  # One role that must log in with a password (SCRAM over loopback), for the
  # PASSWORD / passfile / bad-password tests; every other role keeps trust.
  # pg_hba.conf takes the first matching line, so this one goes on top.
  if ! grep -q '^host all sessionctl_pw ' "$data/pg_hba.conf"; then
    as_pg_owner sed -i '1i host all sessionctl_pw 127.0.0.1/32 scram-sha-256' "$data/pg_hba.conf"
  fi
  if as_pg_owner "$pg_bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    as_pg_owner "$pg_bin/pg_ctl" -D "$data" reload >/dev/null
  else
    as_pg_owner "$pg_bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
      -o "-p $pg_port -k $data -c listen_addresses=127.0.0.1" start >/dev/null
  fi
  local psql=("$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1)
  "${psql[@]}" -c "SET password_encryption = 'scram-sha-256';
    DO \$\$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sessionctl_pw') THEN
        CREATE ROLE sessionctl_pw LOGIN CREATEDB PASSWORD 'sessionctl-test-pw';
      END IF;
    END \$\$" >/dev/null
  echo "export SESSIONCTL_TEST_PG=postgres://postgres@127.0.0.1:$pg_port/postgres"
  # Test-only credentials of a test-only role: not a secret.
  echo "export SESSIONCTL_TEST_PG_PASSWORD_URL=postgres://sessionctl_pw:sessionctl-test-pw@127.0.0.1:$pg_port/postgres"
}

stop_all() {
  [ -f "$state/redis/redis.pid" ] && kill "$(cat "$state/redis/redis.pid")" 2>/dev/null || true
  [ -f "$state/redis-tls/redis.pid" ] && kill "$(cat "$state/redis-tls/redis.pid")" 2>/dev/null || true
  for name in memcached memcached2; do
    [ -f "$state/$name/memcached.pid" ] && kill "$(cat "$state/$name/memcached.pid")" 2>/dev/null || true
  done
  if [ -n "$pg_bin" ] && [ -f "$state/pg/postmaster.pid" ]; then
    as_pg_owner "$pg_bin/pg_ctl" -D "$state/pg" -m fast stop >/dev/null 2>&1 || true
  fi
}

case "${1:-start}" in
  start)
    mkdir -p "$state"
    [ "$(id -u)" -eq 0 ] && chmod 755 "$state"
    start_redis
    start_redis_tls
    start_memcached memcached "$memcached_port" SESSIONCTL_TEST_MEMCACHED
    start_memcached memcached2 "$memcached2_port" SESSIONCTL_TEST_MEMCACHED2
    start_postgres
    ;;
  stop) stop_all ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
