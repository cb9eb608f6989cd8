#!/usr/bin/env bash
# A throwaway S3 API endpoint on loopback (moto in server mode, from the test extras).
#
#   scripts/moto-s3.sh start DIR [PORT]   start moto on 127.0.0.1:PORT (0 or omitted: a free
#                                         port) in the background, print the endpoint URL
#   scripts/moto-s3.sh stop DIR           stop it
#
# Then e.g.: AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
#   TRACKLET_S3_ENDPOINT_URL=<url> tracklet server --blobs s3://bucket/prefix
# (moto accepts any credentials but boto3 refuses to sign without some; create the bucket
# first, e.g. `curl -X PUT <url>/bucket`). PYTHON selects the interpreter (default: the
# project's .venv, else python3).
set -euo pipefail

usage() { echo "usage: $0 start DIR [PORT] | stop DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1
dir=$2
root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-}
if [ -z "$python" ]; then
    if [ -x "$root/.venv/bin/python" ]; then python=$root/.venv/bin/python; else python=python3; fi
fi

case "$cmd" in
start)
    port=${3:-0}
    if [ "$port" = 0 ]; then
        port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    fi
    mkdir -p "$dir"
    "$python" -m moto.server -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 &
    echo $! >"$dir/moto.pid"
    url="http://127.0.0.1:$port"
    for _ in $(seq 1 150); do
        if ! kill -0 "$(cat "$dir/moto.pid")" 2>/dev/null; then
            cat "$dir/moto.log" >&2
            exit 1
        fi
        if "$python" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" \
            "$url/moto-api/data.json" 2>/dev/null; then
            echo "$url"
            exit 0
        fi
        sleep 0.1
    done
    echo "moto did not answer on $url" >&2
    cat "$dir/moto.log" >&2
    exit 1
    ;;
stop)
    if [ -f "$dir/moto.pid" ]; then
        kill "$(cat "$dir/moto.pid")" 2>/dev/null || true
        rm -f "$dir/moto.pid"
    fi
    ;;
*)
    usage
    ;;
esac
