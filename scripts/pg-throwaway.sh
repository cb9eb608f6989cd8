#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on loopback, for the tests and for trying `--db postgresql://`.
#
#   scripts/pg-throwaway.sh start DIR [PORT]   initdb into DIR, start on 127.0.0.1:PORT (0 or
#                                              omitted: a free port), print the server URL
#   scripts/pg-throwaway.sh stop DIR           stop it (DIR can then be deleted)
#
# Uses Debian's server binaries (/usr/lib/postgresql/<version>/bin, newest first; PG_BINDIR
# overrides). PostgreSQL refuses to run as root, so as root the cluster is owned by and run as
# the `postgres` user (created by Debian's package) or else `nobody`, through runuser. Trust
# auth on loopback only; fsync off: the data is disposable.
set -euo pipefail

usage() { echo "usage: $0 start DIR [PORT] | stop DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1
dir=$2

bindir=${PG_BINDIR:-}
if [ -z "$bindir" ]; then
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -V -r); do
        [ -x "$d/postgres" ] && { bindir=$d; break; }
    done
fi
if [ -z "$bindir" ] && command -v pg_ctl >/dev/null 2>&1; then
    bindir=$(dirname "$(command -v pg_ctl)")
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/pg_ctl" ]; then
    echo "PostgreSQL server binaries not found: run scripts/system-deps.sh (apt-get install postgresql)" >&2
    exit 1
fi

run_as=()
owner=""
if [ "$(id -u)" -eq 0 ]; then
    if id -u postgres >/dev/null 2>&1; then owner=postgres; else owner=nobody; fi
    run_as=(runuser -u "$owner" --)
fi

case "$cmd" in
start)
    port=${3:-0}
    if [ "$port" = 0 ]; then
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    fi
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [ -n "$owner" ] && chown "$owner" "$dir"
    cd "$dir"  # the server's user may not be allowed into the caller's working directory
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        "${run_as[@]}" "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 \
            --locale=C --no-sync >"$dir/initdb.log" 2>&1 \
            || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    if ! "${run_as[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off \
            -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        start >/dev/null; then
        cat "$dir/server.log" >&2
        exit 1
    fi
    echo "postgresql://postgres@127.0.0.1:$port/postgres"
    ;;
stop)
    dir=$(cd "$dir" && pwd)
    cd "$dir"
    if [ -f "$dir/data/postmaster.pid" ]; then
        "${run_as[@]}" "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null
    fi
    ;;
*)
    usage
    ;;
esac
