#!/usr/bin/env bash
# CI: run the README's "S3 walk-through" block as written, line by line, and check its output:
# serve's S3 banner (endpoint, both keys), the bucket and its objects listed, the one-object
# invocation and the bucket's auto-sync invocations complete, the query's best hit in the
# expected document, serve stopped, and no process of its stack left running.
# The block runs with HOME set to a temporary folder (so its `~/...` home is fresh and
# removed afterwards; the embedding model is found through CHROMA_SYNC_MODEL_DIR) and with
# free ports added to its `chroma-sync serve` line (sync_pipelines/devtools/walkthrough_check.py).
# Two settings only shorten the auto-sync step's wait: CHROMA_SYNC_S3_SENSOR_INTERVAL_S=5
# (instead of 30) and CHROMA_SYNC_LAUNCH_GRACE_SECONDS=3 (instead of 15: the invocation sensor
# leaves the oldest pending invocation of a source that long to an API launch, even one the
# auto-sync sensor created).
# Needs the virtualenv of scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
helper=sync_pipelines/devtools/walkthrough_check.py
python=.venv/bin/python
[ -x .venv/bin/chroma-sync ] || {
  echo "check_s3_walkthrough: FAILED: no .venv/bin/chroma-sync (run bash scripts/setup.sh)" >&2
  exit 1
}

model_dir=$("$python" -c 'from sync_pipelines.settings import Settings; print(Settings().resolved_model_dir)')
fake_home=$(mktemp -d)
out=$(mktemp)
script=$(mktemp)
left_running() {
  grep -lzF "CHROMA_SYNC_HOME=$fake_home/" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 || true
}
cleanup() {
  for pid in $(left_running); do kill -9 "$pid" 2>/dev/null || true; done
  rm -rf "$fake_home" "$out" "$script"
}
trap cleanup EXIT

if ! PYTHONPATH=. "$python" "$helper" script README.md >"$script"; then
  echo "check_s3_walkthrough: FAILED: cannot build the walk-through from README.md" >&2
  exit 1
fi
echo "check_s3_walkthrough: running the README's S3 walk-through (HOME=$fake_home)"
started=$(date +%s)
set +e
HOME=$fake_home CHROMA_SYNC_MODEL_DIR=$model_dir \
  CHROMA_SYNC_S3_SENSOR_INTERVAL_S=5 CHROMA_SYNC_LAUNCH_GRACE_SECONDS=3 \
  timeout -k 10 240 bash "$script" >"$out" 2>&1 </dev/null
code=$?
set -e
elapsed=$(($(date +%s) - started))

fail() {
  echo "---- captured output ----" >&2
  cat "$out" >&2
  echo "-------------------------" >&2
  echo "check_s3_walkthrough: FAILED: $1" >&2
  exit 1
}

[ "$code" -eq 0 ] || fail "the walk-through exited with code $code after ${elapsed} s"
"$python" "$helper" output "$out" || fail "the walk-through's output lacks the lines above"
sleep 1
left=$(left_running)
if [ -n "$left" ]; then
  for pid in $left; do
    echo "left running: $pid $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" >&2
  done
  fail "processes of the walk-through's serve are still running: $(echo $left)"
fi
cat "$out"
echo "check_s3_walkthrough: OK in ${elapsed} s"
