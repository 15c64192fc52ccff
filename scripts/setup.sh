#!/usr/bin/env bash
# Set up a fresh machine of this kind: Python 3.10 venv in .venv and the project installed.
# Idempotent: re-runs only the steps whose inputs changed (stamp files in .venv/).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

find_python310() {
  for candidate in "${PYTHON310:-}" "$(command -v python3.10 || true)" \
                   "$HOME/.pyenv/versions/3.10.13/bin/python" /root/.pyenv/versions/3.10.13/bin/python; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  return 1
}

if [ ! -x .venv/bin/python ]; then
  step "[1/3] creating .venv with Python 3.10 (Rasa 3.6 does not run on 3.11)"
  PY=$(find_python310) || { echo "Python 3.10 not found: install it (pyenv install 3.10.13) or set PYTHON310" >&2; exit 1; }
  "$PY" -m venv .venv
else
  step "[1/3] .venv present ($(.venv/bin/python --version))"
fi

STAMP=".venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$STAMP" ]; then
  step "[2/3] installing madoguchi and its dependencies (a few minutes on a fresh machine)"
  .venv/bin/python -m pip install --progress-bar on -q --upgrade "pip<25" >/dev/null
  .venv/bin/python -m pip install --progress-bar on -e '.[test]'
  rm -f .venv/.installed-* && touch "$STAMP"
else
  step "[2/3] Python packages up to date"
fi

# Browser tests of the web chat: Debian's Chromium (plus Japanese fonts) and, from npm,
# playwright-core and axe-core. No package may download a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if [ ! -x /usr/bin/chromium ] || ! dpkg -s fonts-noto-cjk >/dev/null 2>&1; then
  step "[3/3] system packages: installing chromium and fonts-noto-cjk (Debian)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium fonts-noto-cjk
else
  step "[3/3] system packages: chromium present ($(/usr/bin/chromium --version 2>/dev/null | head -1 | cut -d' ' -f1-2))"
fi
NPM_STAMP="node_modules/.installed-$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -c1-16)"
if [ ! -f "$NPM_STAMP" ]; then
  command -v npm >/dev/null || { echo "npm not found: install Node.js 20+ (Debian: nodejs npm)" >&2; exit 1; }
  step "[3/3] npm packages for the browser tests (playwright-core, axe-core)"
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
  rm -f node_modules/.installed-* && touch "$NPM_STAMP"
else
  step "[3/3] npm packages up to date"
fi

# Speech: Open JTalk (offline TTS) with its dictionary and the nitech voice, and sox to make
# 8 kHz WAV for the phone (libsox-fmt-mp3: gTTS answers are MP3). The voice is in Debian's contrib component, which a stock bookworm
# machine does not enable: add it in the deb822 format apt uses here.
SPEECH_PKGS="open-jtalk open-jtalk-mecab-naist-jdic hts-voice-nitech-jp-atr503-m001 sox libsox-fmt-mp3"
missing_speech=""
for pkg in $SPEECH_PKGS; do dpkg -s "$pkg" >/dev/null 2>&1 || missing_speech="$missing_speech $pkg"; done
if [ -n "$missing_speech" ]; then
  step "[speech] system packages: installing$missing_speech (Debian, contrib enabled for the voice)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  if ! grep -rqs "contrib" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    printf '%s\n' "Types: deb" "URIs: http://deb.debian.org/debian" "Suites: bookworm" \
      "Components: contrib" "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" \
      | $SUDO tee /etc/apt/sources.list.d/debian-contrib.sources >/dev/null
  fi
  $SUDO apt-get update -q
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing_speech
else
  step "[speech] system packages: open-jtalk, voice and sox present"
fi

# Cluster (`make cluster`): nginx in front of two replicas, on the machine's PostgreSQL and Redis.
# RUNLEVEL=1 keeps Debian's maintainer scripts from starting the system services: `make cluster`
# runs its own nginx with its own config, pid and logs under var/cluster/ (scripts/cluster.sh).
CLUSTER_PKGS="nginx postgresql redis-server"
missing_cluster=""
for pkg in $CLUSTER_PKGS; do dpkg -s "$pkg" >/dev/null 2>&1 || missing_cluster="$missing_cluster $pkg"; done
if [ -n "$missing_cluster" ]; then
  step "[cluster] system packages: installing$missing_cluster (Debian; system services left as they are)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  # shellcheck disable=SC2086
  RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing_cluster
else
  step "[cluster] system packages: nginx, postgresql, redis-server present"
fi
