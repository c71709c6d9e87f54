#!/usr/bin/env bash
# Regenerates the alirestart SDKs from the package schema (see docs/sdks.md).
#
#   scripts/gen-sdks.sh           write sdk/nodejs, sdk/go and sdk/python
#   scripts/gen-sdks.sh --check   generate into a temporary folder and compare with sdk/; exit 1
#                                 naming every file that changed, is missing or is extra
#
# The generator is tools/sdkgen (Pulumi's own code generators from the github.com/pulumi/pulumi/pkg/v3
# release pinned in its go.mod, the CLI's release), run offline: no language plugin, no
# `pulumi package gen-sdk`. Go modules come from Go's module cache, or Go's configured module
# proxy when missing (the Go SDK's go.sum is written by `go mod tidy`).
#
# The schema's version must be restart_trigger's __version__: the SDKs ask the engine for the
# plugin of that version, so a release bumps both and regenerates.
#
# Environment:
#   SDKGEN_SCHEMA  the schema (default providers/restart_trigger/plugin/schema.json)
#   SDKGEN_OUT     where to write, or what --check compares with (default sdk)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
schema="${SDKGEN_SCHEMA:-$root/providers/restart_trigger/plugin/schema.json}"
sdk="${SDKGEN_OUT:-$root/sdk}"
languages=(nodejs go python)

check=
case "${1:-}" in
  "") ;;
  --check) check=1 ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

if ! command -v go >/dev/null 2>&1; then
  echo "gen-sdks: no Go toolchain: install Go 1.25 or newer" >&2
  exit 1
fi

schema_version="$(sed -nE 's/^  "version": "([^"]+)",?$/\1/p' "$schema" | head -n1)"
package_version="$(sed -nE 's/^__version__ = "([^"]+)"$/\1/p' "$root/providers/restart_trigger/__init__.py")"
if [ -z "$schema_version" ] || [ "$schema_version" != "$package_version" ]; then
  echo "gen-sdks: $schema has version \"$schema_version\" but restart_trigger.__version__ is \"$package_version\": set the schema's version, then run scripts/gen-sdks.sh" >&2
  exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# -mod=readonly: the generator's go.mod and go.sum are used as committed.
export GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false"
go -C "$root/tools/sdkgen" build -trimpath -o "$tmp/sdkgen" .

if [ -z "$check" ]; then
  "$tmp/sdkgen" -schema "$schema" -out "$sdk"
  echo "gen-sdks: wrote ${languages[*]/#/$sdk/}"
  exit 0
fi

"$tmp/sdkgen" -schema "$schema" -out "$tmp/out"

# Files the SDK folders ignore (their generated .gitignore) are no drift: a local npm install or
# a Python build leaves them.
list() {
  (cd "$1" && find . -type f \
      -not -path './node_modules/*' -not -path './bin/*' -not -path './build/*' -not -path './dist/*' \
      -not -path '*/__pycache__/*' -not -name '*.pyc' -not -path '*.egg-info/*' -not -path '*/.mypy_cache/*' \
    | sed 's|^\./||' | LC_ALL=C sort)
}

drift=()
for lang in "${languages[@]}"; do
  want="$tmp/out/$lang"
  have="$sdk/$lang"
  [ -d "$have" ] || { drift+=("${have#"$root"/}/ (missing)"); continue; }
  while IFS= read -r rel; do
    [ -n "$rel" ] || continue
    if [ ! -f "$have/$rel" ]; then
      drift+=("${have#"$root"/}/$rel (missing)")
    elif ! cmp -s "$want/$rel" "$have/$rel"; then
      drift+=("${have#"$root"/}/$rel (differs)")
    fi
  done < <(list "$want")
  while IFS= read -r rel; do
    [ -n "$rel" ] || continue
    [ -f "$want/$rel" ] || drift+=("${have#"$root"/}/$rel (not generated)")
  done < <(list "$have")
done

if [ "${#drift[@]}" -gt 0 ]; then
  echo "gen-sdks: the SDKs do not match ${schema#"$root"/}; run scripts/gen-sdks.sh and commit the result:" >&2
  printf '  %s\n' "${drift[@]}" >&2
  exit 1
fi
echo "gen-sdks: ${languages[*]/#/$sdk/} match ${schema#"$root"/}"
