#!/usr/bin/env bash
# Every test, in the order that fails fastest. Called by `make test` (and so by .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
export RASA_TELEMETRY_ENABLED=false
V=.venv/bin
mkdir -p results

echo "== lint (ruff)"
$V/ruff check .

echo "== layers and shape (lint-imports: .importlinter; scripts/check_structure.py)"
$V/lint-imports --no-cache >results/lint-imports.txt 2>&1 || { cat results/lint-imports.txt; exit 1; }
grep -E "KEPT|BROKEN|Contracts:" results/lint-imports.txt
$V/python scripts/check_structure.py

echo "== clinic knowledge base"
$V/aftercare kb check

echo "== rasa data validate (warnings fail)"
$V/rasa data validate --fail-on-warnings --quiet 2>&1 | grep -v -E "DeprecationWarning|declare_namespace|pkg_resources|MovedIn20Warning|declarative_base|xla_computation|^\s*$" || true
$V/rasa data validate --fail-on-warnings --quiet >/dev/null 2>&1

echo "== train the model if its training data changed"
$V/aftercare train

echo "== Rasa test stories"
$V/rasa test core --model models/aftercare.tar.gz --stories tests/stories --out results/core --fail-on-prediction-errors --quiet >results/core.log 2>&1 || { tail -40 results/core.log; cat results/core/failed_test_stories.yml 2>/dev/null; exit 1; }
echo "story tests passed (results/core)"

echo "== red flags (recall must be 100%, false alarms at most 3%) and answers (topic, status floors)"
$V/python scripts/red_flag_eval.py

echo "== browser for the website widget tests (Debian chromium)"
bash scripts/browser.sh

echo "== pytest (unit, action, end-to-end and browser tests; storage on SQLite and PostgreSQL; scale-out on PostgreSQL + Redis behind HAProxy)"
pgdir=$(mktemp -d /tmp/aftercare-pg.XXXXXX)
redisdir=$(mktemp -d /tmp/aftercare-redis.XXXXXX)
trap 'bash scripts/postgres.sh stop "$pgdir"; bash scripts/redis.sh stop "$redisdir"' EXIT
eval "$(bash scripts/postgres.sh start "$pgdir")"
eval "$(bash scripts/redis.sh start "$redisdir")"
eval "$(bash scripts/haproxy.sh install)"
$V/pytest
