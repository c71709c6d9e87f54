#!/usr/bin/env bash
# Runs the unit and emulator suites with the OLDEST pulumi that pyproject.toml declares
# (`pulumi>=X,<4`), in its own virtualenv (.venv-lower-bound), so the range we publish is one
# the suite has actually passed with. Everything else is installed at the pinned versions of
# requirements*.txt, less pulumi-alicloud (4.x needs a newer pulumi; the one test that uses it
# is skipped here). The end-to-end suite needs the CLI of the pinned release and runs in
# `make test`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
lower="$(sed -nE 's/^ *"pulumi>=([0-9.]+),<4",?$/\1/p' pyproject.toml)"
if [ -z "$lower" ]; then
  echo "test-lower-bound: no 'pulumi>=X,<4' dependency in pyproject.toml" >&2
  exit 1
fi
venv="$root/.venv-lower-bound"
# rebuilt when the bound or the pins change (a dev SDK added to requirements-dev.txt, say)
key="$(cat requirements.txt requirements-dev.txt pyproject.toml providers/restart_trigger/__init__.py | sha256sum | cut -c1-12)"
stamp="$venv/.installed-$lower-$key"
if [ ! -f "$stamp" ]; then
  rm -rf "$venv"
  "${PYTHON:-python3}" -m venv "$venv"
  pins="$(grep -hvE '^\s*(#|-r|-e|pulumi==|pulumi-alicloud==)' requirements.txt requirements-dev.txt | grep .)"
  # shellcheck disable=SC2086
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "pulumi==$lower" $pins -e .
  touch "$stamp"
fi
echo "test-lower-bound: pulumi $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("pulumi"))') in $venv"
"$venv/bin/python" -m pytest tests/unit tests/emulator -q -p no:cacheprovider "$@"
