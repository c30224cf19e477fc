#!/usr/bin/env bash
# Installs what Depot needs to build, run and test on Debian 12 (as root):
# Debian packages, and Python tools into ./.venv. Idempotent and quiet when
# everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# prometheus (with promtool): the tests run one of their own on a port they
# choose above 10000 (Tests/integration/test_metrics.py); the system service
# the package starts where it can (:9090) is never used. Recommends are left
# out, so no node exporter comes along.
packages=(nginx libfcgi-dev libssl-dev libsqlite3-dev libpq-dev libcurl4-openssl-dev openssl curl procps python3-venv
          postgresql clamav-daemon prometheus libjs-chart.js chromium)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "install-deps: apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    echo "install-deps: creating .venv"
    python3 -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(sha256sum scripts/requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "install-deps: pip install -r scripts/requirements.txt"
    .venv/bin/pip install -q --disable-pip-version-check -r scripts/requirements.txt
    echo "$want" >"$stamp"
fi
