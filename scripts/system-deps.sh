#!/usr/bin/env bash
# System packages the test suite needs, from Debian's archive. Idempotent: installs only what
# is missing. Needs root (as in CI) or sudo.
#   postgresql: the real PostgreSQL server the tests start (scripts/pg-throwaway.sh); it
#     brings postgresql-client, whose pg_dump/pg_restore `tracklet backup`/`restore` run
#   python3-venv: only when $PY is Debian's own python3, which ships without ensurepip
#   chromium: the browser tests/ui drives through Playwright (/usr/bin/chromium; never a
#     downloaded browser)
#   nodejs, npm: build the web UI (frontend/); only when npm is missing
#   nginx-light: tests/e2e/test_nginx.py runs docs/deploy.md's nginx config on loopback
# `system-deps.sh ui` installs only what building the web UI needs (make run).
set -euo pipefail
need=()
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
if [ "${1:-}" != "ui" ]; then
    ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
    "${PY:-python3}" -c 'import ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
    [ -x /usr/bin/chromium ] || need+=(chromium)
    [ -x /usr/sbin/nginx ] || need+=(nginx-light)
fi
if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
echo "installing system packages: ${need[*]}"
$SUDO apt-get update -qq
# Debian's postgresql package may start a system cluster on port 5432; the tests start their own.
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
