#!/usr/bin/env bash
# Build Helm from its Go module into .cache/bin/helm (about 2-4 minutes, once per
# machine), as Mailpit is built: no binary download from outside the package
# registries. Built once into the machine's cache (COUNTERSIGN_CACHE, as Kafka's jars;
# Go's module cache there too), then copied into each checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:?usage: deploy/helm-build.sh vX.Y.Z}"
shared="${COUNTERSIGN_CACHE:-$HOME/.cache/countersign}"
built="$shared/helm-$version/helm"
if [[ ! -x "$built" ]]; then
  command -v go >/dev/null || { echo "Go is needed to build Helm"; exit 1; }
  echo "building Helm $version with Go (once per machine; cached in $shared)…"
  GOPATH="$shared/go" GOFLAGS=-modcacherw GOBIN="$shared/helm-$version.partial" \
    go install "helm.sh/helm/v4/cmd/helm@$version"
  rm -rf "$shared/helm-$version" && mv "$shared/helm-$version.partial" "$shared/helm-$version"
fi
install -D -m 755 "$built" .cache/bin/helm
.cache/bin/helm version --short
