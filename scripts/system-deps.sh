#!/usr/bin/env bash
# System packages the test suite needs, from Debian's archive. Idempotent: installs only what
# is missing. Needs root (as in CI) or sudo.
#   postgresql: the real PostgreSQL server the tests start (scripts/pg-throwaway.sh)
set -euo pipefail
need=()
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
echo "installing system packages: ${need[*]}"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian's package starts a system cluster on port 5432; the tests run their own.
