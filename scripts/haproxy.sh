#!/usr/bin/env bash
# HAProxy in front of several Rasa servers, with sender affinity (scripts/haproxy.cfg); installed
# with apt when missing, like PostgreSQL and Redis.
#   eval "$(bash scripts/haproxy.sh install)"           -> exports AFTERCARE_TEST_HAPROXY
#   bash scripts/haproxy.sh config PORT HOST:PORT...     -> the configuration, on stdout
set -euo pipefail
cmd=${1:?install or config}
here=$(cd "$(dirname "$0")" && pwd)

case "$cmd" in
  install)
    if ! command -v haproxy >/dev/null; then
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "Installing HAProxy (apt) for the scale-out tests..." >&2
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null) >&2
      else
        echo "echo 'HAProxy is not installed and cannot be installed here: its test will be skipped' >&2"
        exit 0
      fi
    fi
    echo "export AFTERCARE_TEST_HAPROXY=$(command -v haproxy)"
    ;;
  config)
    port=${2:?port to listen on}
    shift 2
    [ $# -gt 0 ] || { echo "at least one Rasa server (HOST:PORT)" >&2; exit 2; }
    servers=""
    n=0
    for server in "$@"; do
      n=$((n + 1))
      servers+="    server rasa$n $server check"$'\n'
    done
    python3 - "$here/haproxy.cfg" "127.0.0.1:$port" "$servers" <<'PY'
import sys
template, bind, servers = sys.argv[1:4]
text = open(template, encoding="utf-8").read()
print(text.replace("@BIND@", bind).replace("@SERVERS@", servers.rstrip("\n")))
PY
    ;;
  *)
    echo "usage: haproxy.sh install | config PORT HOST:PORT..." >&2
    exit 2
    ;;
esac
