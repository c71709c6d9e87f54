#!/usr/bin/env bash
# Runs a Pulumi command on the example stack, with the local emulator when the stack uses it.
#
#   scripts/stack.sh up|preview|refresh|destroy [extra pulumi args]
#
# STACK (default dev) picks the stack. The dev stack's alicloud:endpoints point at
# http://127.0.0.1:$EMULATOR_PORT (default 18931): this script starts the emulator there
# (seeded with emulator/seeds/demo.json, state kept in .state/emulator.json so change ids
# survive between runs), runs the command, prints the outputs and stops the emulator.
# EMULATOR=0 skips the emulator (a stack pointed at a real Alibaba Cloud account).
# Before up and preview, scripts/check-config-size.py checks that the stack config fits the one
# environment variable the Python program gets it in (it names the largest keys and the fix
# when not; docs/reference.md "Many targets: the config size limit"); CONFIG_SIZE_CHECK=0
# skips that check.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/env.sh
source scripts/env.sh

cmd="${1:?usage: scripts/stack.sh up|preview|refresh|destroy [pulumi args]}"
shift
stack="${STACK:-dev}"
port="${EMULATOR_PORT:-18931}"
use_emulator="${EMULATOR:-$([ "$stack" = dev ] && echo 1 || echo 0)}"

emulator_pid=""
stop_emulator() {
  if [ -n "$emulator_pid" ] && kill -0 "$emulator_pid" 2>/dev/null; then
    kill -TERM "$emulator_pid" && wait "$emulator_pid" 2>/dev/null || true
  fi
}
trap stop_emulator EXIT

pulumi stack select --create "$stack" --non-interactive >/dev/null
case "$cmd" in
  up | preview)
    # It reads the decrypted config itself, through a pipe from `pulumi config`: no secret in
    # a shell variable, a file or a command line. Exit 1: too big (its message says why).
    # A pass is remembered in .state until Pulumi.yaml or Pulumi.<stack>.yaml change.
    if [ "${CONFIG_SIZE_CHECK:-1}" != 0 ]; then
      .venv/bin/python scripts/check-config-size.py --stack "$stack" --cache .state
    fi
    ;;
esac

if [ "$use_emulator" = 1 ]; then
  log="$root/.state/emulator.log"
  : >"$log"
  .venv/bin/python -m emulator --host 127.0.0.1 --port "$port" \
    --state "$root/.state/emulator.json" --seed emulator/seeds/demo.json >"$log" 2>&1 &
  emulator_pid=$!
  for _ in $(seq 1 100); do
    if grep -q '^http://' "$log"; then break; fi
    if ! kill -0 "$emulator_pid" 2>/dev/null; then
      echo "the emulator did not start (is port $port free? set EMULATOR_PORT and the stack's alicloud:endpoints):" >&2
      cat "$log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "emulator: $(head -n 1 "$log") (log: .state/emulator.log)"
fi

case "$cmd" in
  up | refresh | destroy) pulumi "$cmd" --yes --non-interactive "$@" ;;
  preview) pulumi preview --non-interactive --diff "$@" ;;
  *) pulumi "$cmd" "$@" ;;
esac
if [ "$cmd" != destroy ] && [ "$cmd" != preview ]; then
  echo
  echo "Outputs of stack $stack:"
  pulumi stack output --json
fi
