# shellcheck shell=bash
# Offline, non-interactive defaults for every Pulumi command this project runs.
# Sourced by the Makefile recipes and by the test suite's CLI driver (testbed/pulumi_cli.py
# reads the same file), so there is exactly one place to change them.
#
#   PULUMI_BACKEND_URL     local file backend in .state/backend (ignored by git)
#   PULUMI_CONFIG_PASSPHRASE  passphrase secrets provider; the demo passphrase below is
#                          public on purpose: use your own (export it) for a real account
#   PULUMI_HOME            .state/pulumi-home, so nothing is written to ~/.pulumi
#   PULUMI_SKIP_UPDATE_CHECK, PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION  no network calls
#   PATH                   the CLI built by scripts/ensure-pulumi.sh (if any) first
#
# No Python setting: the CLI (an official one, or the build's language host shim) runs the
# program and its dynamic provider with the virtualenv named in Pulumi.yaml (`.venv`).
#
# Every value can be overridden by exporting it before running make.
_rt_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://${_rt_root}/.state/backend}"
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-restart-trigger-demo}"
export PULUMI_HOME="${PULUMI_HOME:-${_rt_root}/.state/pulumi-home}"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_SKIP_CONFIRMATIONS=true
if [ -x "${_rt_root}/.tools/bin/pulumi" ]; then
  export PATH="${_rt_root}/.tools/bin:${PATH}"
fi
mkdir -p "${_rt_root}/.state/backend" "${PULUMI_HOME}"
unset _rt_root
