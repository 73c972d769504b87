#!/usr/bin/env bash
# Build Helm from its Go module into .cache/bin/helm (about 2-4 minutes, once), as
# Mailpit is built: no binary download from outside the package registries.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:?usage: deploy/helm-build.sh vX.Y.Z}"
cache="$PWD/.cache"
export GOPATH="$cache/go" GOFLAGS=-modcacherw GOBIN="$cache/bin"
command -v go >/dev/null || { echo "Go is needed to build Helm"; exit 1; }
echo "building Helm $version with Go (once; cached in $cache/bin)…"
go install "helm.sh/helm/v4/cmd/helm@$version"
"$cache/bin/helm" version --short
