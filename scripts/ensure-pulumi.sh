#!/usr/bin/env bash
# Makes a Pulumi CLI and the Pulumi YAML language host available to this project, then prints
# which ones.
#
# 1. A `pulumi` already on PATH whose version is v3.MIN or newer (and below v4) is used as is.
#    So is a `pulumi-language-yaml` on PATH or beside that CLI (official releases ship it
#    there); without one, the pinned YAML host is built (3.) and .tools/bin gets links to that
#    CLI and the host, so scripts/env.sh puts both first on PATH.
# 2. Otherwise the pinned release is built from Go modules (tools/pulumi-cli/go.mod and
#    tools/pulumi-language-python/go.mod, checksum-verified by their go.sum files), together
#    with the two helper scripts the CLI expects beside it, into a cache folder keyed by the
#    pins and the sources, and .tools/bin (ignored by git) links to it. A second run, or a
#    fresh clone on the same machine, reuses the cache; Go's own module and build caches stay
#    where Go keeps them.
#
# Layout of the cache folder:
#   bin/pulumi                          the CLI (engine, v3.259)
#   bin/pulumi-language-python          tools/pulumi-cli/python-host-shim: loads Pulumi.yaml and
#   bin/pulumi-resource-pulumi-python     execs libexec/ with the project's virtualenv (same file)
#   bin/pulumi-language-python-exec     the program runner, from the CLI's sdk
#   libexec/pulumi-language-python      the Python language host (v3.79, see its go.mod)
#   libexec/pulumi-resource-pulumi-python  the dynamic-provider launcher, from the CLI's sdk
#
# 3. The Pulumi YAML language host (runtime: yaml), tools/pulumi-language-yaml/go.mod, is built
#    the same way into its own cache folder, keyed by its go.mod/go.sum and this script:
#   bin/pulumi-language-yaml            (v1.25, see its go.mod); the CLI finds it on PATH
# .tools/bin is then a folder of links to the programs of both cache folders.
#
# Environment:
#   RESTART_TRIGGER_BUILD_PULUMI=1  build the pinned CLI even if a compatible one is on PATH
#   RESTART_TRIGGER_CACHE           cache folder (default: ${XDG_CACHE_HOME:-~/.cache}/restart-trigger)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cli_mod="$root/tools/pulumi-cli"
host_mod="$root/tools/pulumi-language-python"
yaml_mod="$root/tools/pulumi-language-yaml"

pinned="$(awk '$1 == "github.com/pulumi/pulumi/pkg/v3" {print $2; exit}' "$cli_mod/go.mod")"
host_pinned="$(awk '$1 == "github.com/pulumi/pulumi/sdk/v3" {print $2; exit}' "$host_mod/go.mod")"
yaml_pinned="$(awk '$1 == "github.com/pulumi/pulumi-yaml" {print $2; exit}' "$yaml_mod/go.mod")"
min_minor="$(echo "$pinned" | cut -d. -f2)"

cache_root="${RESTART_TRIGGER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/restart-trigger}"

# A version string like v3.259.0 -> "3 259"; anything else -> empty.
major_minor() { sed -nE 's/^v?([0-9]+)\.([0-9]+)\..*/\1 \2/p' <<<"$1"; }

# The YAML language host: sets yaml_bin to the cached program, building it first if needed.
ensure_yaml_host() {
  local key dest tmp start
  key="$(cat "$yaml_mod/go.mod" "$yaml_mod/go.sum" "$0" | sha256sum | cut -c1-12)"
  dest="$cache_root/pulumi-language-yaml-$yaml_pinned-$key"
  yaml_bin="$dest/bin/pulumi-language-yaml"
  [ -x "$yaml_bin" ] && return 0
  echo "pulumi: building the YAML language host ($yaml_pinned) from Go modules into $dest" >&2
  start=$(date +%s)
  tmp="$dest.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp/bin"
  (cd "$yaml_mod" && GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false" go build -trimpath \
      -ldflags "-s -w -X github.com/pulumi/pulumi-yaml/pkg/version.Version=$yaml_pinned" \
      -o "$tmp/bin/pulumi-language-yaml" github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml)
  rm -rf "$dest"
  mv "$tmp" "$dest"
  echo "pulumi: built the YAML language host in $(( $(date +%s) - start ))s" >&2
}

# .tools/bin becomes a folder of links to the given programs (replacing an older link).
link_tools_bin() {
  local tmp="$root/.tools/bin.tmp.$$" program
  mkdir -p "$root/.tools"
  rm -rf "$tmp"
  mkdir "$tmp"
  for program in "$@"; do ln -s "$program" "$tmp/$(basename "$program")"; done
  rm -rf "$root/.tools/bin"
  mv "$tmp" "$root/.tools/bin"
}

if [ -z "${RESTART_TRIGGER_BUILD_PULUMI:-}" ]; then
  # Look for a pulumi on PATH that is not our own build.
  clean_path="$(tr ':' '\n' <<<"$PATH" | grep -vxF "$root/.tools/bin" | paste -sd: -)"
  if existing="$(PATH="$clean_path" command -v pulumi 2>/dev/null)"; then
    version="$("$existing" version 2>/dev/null || true)"
    read -r major minor <<<"$(major_minor "$version")" || true
    if [ "${major:-}" = 3 ] && [ "${minor:-0}" -ge "$min_minor" ]; then
      echo "pulumi: using $existing ($version)"
      beside="$(dirname "$(readlink -f "$existing")")/pulumi-language-yaml"
      if yaml="$(PATH="$clean_path" command -v pulumi-language-yaml 2>/dev/null)" ||
        { [ -x "$beside" ] && yaml="$beside"; }; then
        rm -rf "$root/.tools/bin"
        echo "pulumi-language-yaml: using $yaml"
        exit 0
      fi
      if ! command -v go >/dev/null 2>&1; then
        rm -rf "$root/.tools/bin"
        echo "pulumi-language-yaml: none on PATH and no Go toolchain to build $yaml_pinned: YAML stacks will not run (install Go 1.24.7 or newer, or Pulumi's pulumi-language-yaml)" >&2
        exit 0
      fi
      ensure_yaml_host
      link_tools_bin "$existing" "$yaml_bin"
      echo "pulumi-language-yaml: using $root/.tools/bin/pulumi-language-yaml ($yaml_pinned), built from Go modules"
      exit 0
    fi
    echo "pulumi: $existing ($version) is not v3.$min_minor or newer; building the pinned $pinned" >&2
  fi
fi

if ! command -v go >/dev/null 2>&1; then
  echo "pulumi: no compatible pulumi on PATH and no Go toolchain to build $pinned; install Go 1.25 or newer, or Pulumi CLI v3.$min_minor+" >&2
  exit 1
fi

shim_dir="$cli_mod/python-host-shim"
key="$(cat "$cli_mod/go.mod" "$cli_mod/go.sum" "$host_mod/go.mod" "$host_mod/go.sum" \
  "$shim_dir"/*.go "$0" | sha256sum | cut -c1-12)"
dest="$cache_root/pulumi-$pinned-$key"

if [ ! -x "$dest/bin/pulumi" ]; then
  echo "pulumi: building $pinned (CLI) and the Python language host ($host_pinned) from Go modules into $dest" >&2
  start=$(date +%s)
  tmp="$dest.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp/bin" "$tmp/libexec"
  export GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false"
  ldflags() { echo "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$1"; }
  (cd "$cli_mod" && go build -trimpath -ldflags "$(ldflags "$pinned")" \
      -o "$tmp/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
  # The v3.79 host reads Pulumi.yaml's runtime options only from flags, which the v3.259 engine
  # no longer passes: the shim, found by the CLI under the host's name, supplies them.
  (cd "$host_mod" && go build -trimpath -ldflags "$(ldflags "$host_pinned")" \
      -o "$tmp/libexec/pulumi-language-python" github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python)
  (cd "$cli_mod" && go build -trimpath -ldflags "-s -w" \
      -o "$tmp/bin/pulumi-language-python" ./python-host-shim)
  ln "$tmp/bin/pulumi-language-python" "$tmp/bin/pulumi-resource-pulumi-python"
  # The executor and the dynamic-provider launcher ship in the sdk module's python/ folder.
  sdk_dir="$(cd "$cli_mod" && go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)"
  install -m 0755 "$sdk_dir/python/cmd/pulumi-language-python-exec" "$tmp/bin/"
  install -m 0755 "$sdk_dir/python/dist/pulumi-resource-pulumi-python" "$tmp/libexec/"
  rm -rf "$dest"
  mv "$tmp" "$dest"
  echo "pulumi: built in $(( $(date +%s) - start ))s" >&2
fi

ensure_yaml_host
link_tools_bin "$dest"/bin/* "$yaml_bin"
echo "pulumi: using $root/.tools/bin/pulumi ($("$root/.tools/bin/pulumi" version)), built from Go modules"
echo "pulumi-language-yaml: using $root/.tools/bin/pulumi-language-yaml ($yaml_pinned), built from Go modules"
