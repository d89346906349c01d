#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for the tests (installed with apt when missing).
#   eval "$(bash scripts/postgres.sh start DIR)"   -> exports AFTERCARE_TEST_POSTGRES_URL
#   bash scripts/postgres.sh stop DIR
set -euo pipefail
cmd=${1:?start or stop}
dir=${2:?data directory}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)

run_as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
  start)
    if [ -z "$bin" ]; then
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "Installing PostgreSQL (apt) for the database tests..." >&2
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) >&2
        bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
      else
        echo "echo 'PostgreSQL is not installed and cannot be installed here: the PostgreSQL tests will be skipped' >&2"
        exit 0
      fi
    fi
    rm -rf "$dir"; mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    port=$(python3 "$(dirname "$0")/free_port.py")
    run_as_postgres "$bin/initdb" -D "$dir/data" -A trust -U aftercare >/dev/null
    run_as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
    run_as_postgres "$bin/createdb" -h 127.0.0.1 -p "$port" -U aftercare aftercare_test
    echo "export AFTERCARE_TEST_POSTGRES_URL=postgresql+psycopg2://aftercare@127.0.0.1:$port/aftercare_test"
    ;;
  stop)
    [ -n "$bin" ] && [ -d "$dir/data" ] && run_as_postgres "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
esac
