#!/usr/bin/env bash
# Run the wandb SDK's own system tests (../shared/conformance) against a fresh tracklet server.
# Usage: scripts/conformance.sh [--quick | --files "..."] [extra run.sh args] [-- pytest args]
# Needs a fetched wandb/wandb mirror: WANDB_GIT_DIR=/work/.mirror/wandb+wandb/repo by default.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
shared="${SHARED_DIR:-}"
if [ -z "$shared" ]; then
  # The harness sits beside the main checkout (../shared) or beside the worktree parent (../../shared).
  for d in "$root/../shared" "$root/../../shared"; do
    [ -d "$d/conformance" ] && shared="$(cd "$d" && pwd)" && break
  done
fi
[ -n "$shared" ] || { echo "conformance.sh: no shared/conformance found; set SHARED_DIR" >&2; exit 2; }
venv="$root/.venv"
# A worktree without its own venv runs its own source with the main checkout's venv (PYTHON=...).
python="${PYTHON:-$venv/bin/python}"
export PYTHONPATH="$root/src${PYTHONPATH:+:$PYTHONPATH}"
export WANDB_GIT_DIR="${WANDB_GIT_DIR:-/work/.mirror/wandb+wandb/repo}"
data="$(mktemp -d)"
port="${PORT:-$("$python" -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')}"
# The upstream test container is configured with a "minio-local" artifact storage region
# (test_storage_policy_storage_region); tracklet accepts configured names as aliases of its store.
TRACKLET_STORAGE_REGIONS="${TRACKLET_STORAGE_REGIONS:-minio-local}" \
  "$python" -m tracklet server --data-dir "$data" --port "$port" >"$data/server.log" 2>&1 &
server=$!
fixture_out="$data/fixture.port"
# The fixture service (users, organizations, teams the tests create) runs tracklet's own CLI.
"$python" "$root/scripts/conformance_fixtures.py" --data-dir "$data" >"$fixture_out" 2>"$data/fixture.log" &
fixture=$!
trap 'kill $server $fixture 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && [ -s "$fixture_out" ] && break
  sleep 0.2
done
fport="$(head -1 "$fixture_out")"
echo "tracklet on :$port (data $data), fixture service on :$fport"
# --skip-known-skew with the default SDK (0.31.0 on the HEAD test tree) also drops the skew
# listed in scripts/conformance_skew.txt (test_core/test_api/test_artifacts beyond the
# harness's own list); pytest args go after "--".
args=() pytest_args=() skew=0 seen_dashes=0
for a in "$@"; do
  if [ "$seen_dashes" = 1 ]; then pytest_args+=("$a")
  elif [ "$a" = "--" ]; then seen_dashes=1
  else args+=("$a"); [ "$a" = "--skip-known-skew" ] && skew=1
  fi
done
if [ "$skew" = 1 ] && [ "${WANDB_VERSION:-0.31.0}" = "0.31.0" ]; then
  while read -r entry; do
    case "$entry" in ""|\#*) continue ;; *::*) pytest_args+=(--deselect "$entry") ;;
      *) pytest_args+=(--ignore "$entry") ;; esac
  done <"$root/scripts/conformance_skew.txt"
fi
"$shared/conformance/run.sh" --fixture-url "http://127.0.0.1:$fport" "http://127.0.0.1:$port" \
  ${args[@]+"${args[@]}"} -- ${pytest_args[@]+"${pytest_args[@]}"}
