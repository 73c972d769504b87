#!/usr/bin/env bash
# Build a Go command from its module into .cache/bin/NAME, as Mailpit is built: no
# binary download from outside the package registries. Built once per machine into
# its cache (COUNTERSIGN_CACHE, as Kafka's jars; Go's module cache there too), then
# copied into each checkout.
#   deploy/go-tool-build.sh helm helm.sh/helm/v4/cmd/helm v4.3.2     (2-4 minutes)
#   deploy/go-tool-build.sh vegeta github.com/tsenart/vegeta/v12 v12.13.0
set -euo pipefail
cd "$(dirname "$0")/.."
usage="usage: deploy/go-tool-build.sh NAME MODULE/PATH vX.Y.Z"
name="${1:?$usage}"
package="${2:?$usage}"
version="${3:?$usage}"
shared="${COUNTERSIGN_CACHE:-$HOME/.cache/countersign}"
built="$shared/$name-$version/$name"
if [[ ! -x "$built" ]]; then
  command -v go >/dev/null || { echo "Go is needed to build $name"; exit 1; }
  echo "building $name $version with Go (once per machine; cached in $shared)…"
  GOPATH="$shared/go" GOFLAGS=-modcacherw GOBIN="$shared/$name-$version.partial" \
    go install "$package@$version"
  [[ -x "$shared/$name-$version.partial/$name" ]] || { echo "go install $package made no binary named $name"; exit 1; }
  rm -rf "$shared/$name-$version" && mv "$shared/$name-$version.partial" "$shared/$name-$version"
fi
install -D -m 755 "$built" ".cache/bin/$name"
echo "$name $version: .cache/bin/$name"
