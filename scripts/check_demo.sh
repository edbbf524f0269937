#!/usr/bin/env bash
# CI: run the README's main command exactly as written (the line of the first ```bash block
# under "## Two commands" that runs scripts/demo.sh), then check its exit code and output: a
# `complete` line and a query result line for each of github, s3 and web, `demo ok:`, and no
# process of the demo's stack left running.
set -euo pipefail
cd "$(dirname "$0")/.."
helper=sync_pipelines/devtools/demo_check.py

if ! command=$(python3 "$helper" command README.md); then
  echo "check_demo: FAILED: cannot find the demo command in README.md" >&2
  exit 1
fi
echo "check_demo: running the README's command: $command"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
started=$(date +%s)
set +e
bash -c "$command" >"$out" 2>&1
code=$?
set -e
elapsed=$(($(date +%s) - started))

fail() {
  echo "---- captured output ----" >&2
  cat "$out" >&2
  echo "-------------------------" >&2
  echo "check_demo: FAILED: $1" >&2
  exit 1
}

[ "$code" -eq 0 ] || fail "the demo exited with code $code after ${elapsed} s"
python3 "$helper" output "$out" || fail "the demo's output lacks the lines above"
home=$(sed -n 's/^demo home \(.*\) (emptied on every run)$/\1/p' "$out" | head -n 1)
[ -n "$home" ] || fail "the demo did not say which home it used"
sleep 1
left=$(grep -lxzF "CHROMA_SYNC_HOME=$home" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 || true)
if [ -n "$left" ]; then
  for pid in $left; do
    echo "left running: $pid $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" >&2
  done
  fail "processes of the demo's stack are still running: $(echo $left)"
fi
cat "$out"
echo "check_demo: OK in ${elapsed} s (setup included)"
