#!/usr/bin/env bash
# Build Mailpit (the development mail server) with its web UI into .cache/bin/mailpit.
# `go install` alone gives a binary whose web UI is missing: the UI is built with npm
# from Mailpit's own package-lock.json (esbuild), then embedded by `go build`.
# Built once per machine into its cache (COUNTERSIGN_CACHE, as Kafka's jars; Go's
# module cache there too), then copied into each checkout's .cache/bin.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:?usage: deploy/mailpit-build.sh vX.Y.Z}"
shared="${COUNTERSIGN_CACHE:-$HOME/.cache/countersign}"
built="$shared/mailpit-$version/mailpit"
if [[ -x "$built" ]]; then
  install -D -m 755 "$built" .cache/bin/mailpit
  echo "Mailpit $version: .cache/bin/mailpit (built before, in $shared)"
  exit 0
fi
cache="$shared/mailpit-$version.partial"
rm -rf "$cache" && mkdir -p "$cache"
export GOPATH="$shared/go" GOFLAGS=-modcacherw GOBIN="$cache/bin"
command -v go >/dev/null || { echo "Go is needed to build Mailpit"; exit 1; }
command -v npm >/dev/null || { echo "Node and npm are needed to build Mailpit's web UI"; exit 1; }
echo "fetching Mailpit $version with Go…"
go install "github.com/axllent/mailpit@$version"   # the module source, and a first binary
src="$cache/mailpit-src"
rm -rf "$src" && cp -r "$GOPATH/pkg/mod/github.com/axllent/mailpit@$version" "$src"
chmod -R u+w "$src"
echo "building its web UI with npm (package-lock.json)…"
(cd "$src" && npm ci --no-audit --no-fund --loglevel=error && npm run package --silent)
echo "building the binary with the UI embedded…"
(cd "$src" && go build -ldflags "-s -w -X github.com/axllent/mailpit/config.Version=$version" \
  -o "$cache/bin/mailpit" .)
rm -rf "$src"
mkdir -p "$cache/final" && mv "$cache/bin/mailpit" "$cache/final/mailpit"
rm -rf "$shared/mailpit-$version" && mv "$cache/final" "$shared/mailpit-$version" && rm -rf "$cache"
install -D -m 755 "$built" .cache/bin/mailpit
echo "Mailpit $version: .cache/bin/mailpit (built once in $shared)"
