#!/usr/bin/env bash
# A throwaway Redis server on 127.0.0.1 (installed with apt when missing): the lock store of
# the scale-out profile, for its tests and for trying the profile on one machine.
#   eval "$(bash scripts/redis.sh start DIR)"   -> exports AFTERCARE_TEST_REDIS_URL
#   bash scripts/redis.sh stop DIR
set -euo pipefail
cmd=${1:?start or stop}
dir=${2:?data directory}

case "$cmd" in
  start)
    if ! command -v redis-server >/dev/null; then
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "Installing Redis (apt) for the scale-out tests..." >&2
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null) >&2
      else
        echo "echo 'Redis is not installed and cannot be installed here: the scale-out tests will be skipped' >&2"
        exit 0
      fi
    fi
    rm -rf "$dir"; mkdir -p "$dir"
    port=$(python3 "$(dirname "$0")/free_port.py")
    # Locks only: nothing is saved to disk.
    redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --daemonize yes \
      --pidfile "$dir/redis.pid" --logfile "$dir/log" --save '' --appendonly no >/dev/null
    for _ in $(seq 50); do
      redis-cli -p "$port" ping >/dev/null 2>&1 && break
      sleep 0.1
    done
    echo "export AFTERCARE_TEST_REDIS_URL=redis://127.0.0.1:$port/0"
    ;;
  stop)
    if [ -f "$dir/redis.pid" ]; then
      kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
    fi
    rm -rf "$dir"
    ;;
esac
