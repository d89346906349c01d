#!/usr/bin/env bash
# The browser for the widget tests: Debian's chromium, driven by Playwright from PyPI (pinned in
# requirements.lock). Playwright's own browser download is never used (no internet here).
# Installs with apt-get when /usr/bin/chromium is missing (root, or sudo without a password).
set -euo pipefail
CHROMIUM=${AFTERCARE_CHROMIUM:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if [ "$CHROMIUM" != /usr/bin/chromium ]; then
  echo "AFTERCARE_CHROMIUM=$CHROMIUM is not an executable." >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "Chromium is missing and I can't install it without root: run" >&2
    echo "  sudo apt-get install -y chromium" >&2
    exit 1
  fi
fi
echo "Installing Debian's chromium for the browser tests (apt-get, about a minute)..."
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium >/dev/null
"$CHROMIUM" --version
