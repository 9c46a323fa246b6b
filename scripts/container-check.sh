#!/usr/bin/env bash
# CI check of the container steps, without a Docker engine: what the Dockerfile does, run
# as plain commands on a clean copy of the repository.
#
#  1. copies the files git tracks (or would track: .gitignore keeps node_modules/, dist/
#     and data/ out, as .dockerignore does for the image) to a scratch folder;
#  2. runs scripts/container-build.sh there, as the build stage does;
#  3. starts the runtime tree the way the image does (node dist/src/main.js, the runtime
#     stage's environment, a fresh data folder, as an unprivileged user when run as root);
#  4. waits for the HEALTHCHECK command to pass, checks /readyz and that no dev
#     dependency (tsx, typescript, vitest) was shipped;
#  5. sends SIGTERM and expects exit 0 and nothing left listening.
set -euo pipefail
cd "$(dirname "$0")/.."

WORK="$(mktemp -d "${TMPDIR:-/tmp}/mde-container-check.XXXXXX")"
BOT_PID=""
cleanup() {
  if [ -n "$BOT_PID" ] && kill -0 "$BOT_PID" 2>/dev/null; then kill -KILL "$BOT_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
  echo "container-check: FAILED: $*" >&2
  [ -f "$WORK/bot.log" ] && { echo "--- bot log ---" >&2; tail -n 40 "$WORK/bot.log" >&2; }
  exit 1
}

echo "container-check: copying the repository to $WORK/src ..."
mkdir -p "$WORK/src" "$WORK/data"
git ls-files -z --cached --others --exclude-standard | tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "$WORK/src"

echo "container-check: running scripts/container-build.sh (the Dockerfile's build stage) ..."
(cd "$WORK/src" && sh scripts/container-build.sh "$WORK/app") > "$WORK/build.log" 2>&1 || { tail -n 40 "$WORK/build.log" >&2; fail "scripts/container-build.sh failed"; }
tail -n 1 "$WORK/build.log"

APP="$WORK/app"
[ -f "$APP/dist/src/main.js" ] || fail "no dist/src/main.js in the runtime tree"
[ -f "$APP/dist/cards/approval.json" ] || fail "the card templates are not in dist/cards"
for dev in tsx typescript vitest esbuild; do
  [ ! -e "$APP/node_modules/$dev" ] || fail "dev dependency $dev was shipped in node_modules"
done

PORT="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
# The runtime stage's environment, with loopback instead of 0.0.0.0 (tests bind 127.0.0.1 only).
RUN_ENV=(env -i "PATH=$PATH" NODE_ENV=production HOST=127.0.0.1 "PORT=$PORT" "STORE_URL=sqlite:$WORK/data/mde-chatops.db" LOG_LEVEL=info)
AS_USER=()
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1; then
  # As the image runs: an unprivileged user that can read the app and write only the data folder.
  chmod 755 "$WORK"
  chmod -R a+rX "$APP"
  chown -R 65534:65534 "$WORK/data"
  AS_USER=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi

echo "container-check: starting node dist/src/main.js on 127.0.0.1:$PORT ..."
(cd "$APP" && exec ${AS_USER[@]+"${AS_USER[@]}"} "${RUN_ENV[@]}" node dist/src/main.js) > "$WORK/bot.log" 2>&1 &
BOT_PID=$!

healthy=""
for _ in $(seq 1 120); do
  kill -0 "$BOT_PID" 2>/dev/null || fail "the bot exited during start-up"
  if (cd "$APP" && PORT="$PORT" node dist/src/healthcheck.js); then healthy=yes; break; fi
  sleep 0.5
done
[ -n "$healthy" ] || fail "/healthz did not answer within 60 s"
echo "container-check: HEALTHCHECK (node dist/src/healthcheck.js) passes"
(cd "$APP" && PORT="$PORT" node dist/src/healthcheck.js /readyz) || fail "/readyz is not ready"
echo "container-check: /readyz ready"
[ -f "$WORK/data/mde-chatops.db" ] || fail "the SQLite file is not in the data folder"

kill -TERM "$BOT_PID"
set +e
wait "$BOT_PID"
code=$?
set -e
BOT_PID=""
[ "$code" -eq 0 ] || fail "exit code $code after SIGTERM (expected 0)"
grep -q '"msg":"stopped"' "$WORK/bot.log" || fail "no clean shutdown in the log"
if (cd "$APP" && PORT="$PORT" node dist/src/healthcheck.js); then fail "something still answers on port $PORT after shutdown"; fi
echo "container-check: SIGTERM -> exit 0, port closed"
echo "container-check: passed"
