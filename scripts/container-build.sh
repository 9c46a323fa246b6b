#!/bin/sh
# The Dockerfile's build stage as a plain script, so it runs (and is tested in CI by
# scripts/container-check.sh) without a Docker engine. Run it at the top of a clean copy
# of the repository. It installs every dependency (better-sqlite3 compiles with the C
# toolchain when no prebuilt binary can be fetched), compiles dist/ with tsc, drops the
# dev dependencies, and copies what the runtime needs to OUT:
#
#   OUT/package.json, OUT/package-lock.json, OUT/node_modules (production), OUT/dist
#
# Start it with `node dist/src/main.js` in OUT.
set -eu

OUT="${1:?usage: scripts/container-build.sh OUT_DIR}"

npm ci --no-audit --no-fund
npm run build
npm prune --omit=dev --no-audit --no-fund

mkdir -p "$OUT"
cp -R package.json package-lock.json node_modules dist "$OUT"/
# The Teams app package (npm run package:teams) may sit in dist/; the runtime does not need it.
rm -f "$OUT"/dist/*.zip
echo "container-build: runtime tree ready in $OUT"
