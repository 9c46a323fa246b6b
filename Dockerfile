# syntax=docker/dockerfile:1
#
# mde-chatops: built with the C toolchain, run on a slim Node.js 22 LTS as a non-root user.
#
#   docker build -t mde-chatops .
#   docker run --init -p 127.0.0.1:3978:3978 -v mde-chatops-data:/data --env-file .env mde-chatops
#
# The build stage runs scripts/container-build.sh, the same script CI runs on a clean copy
# of the repository (scripts/container-check.sh), so this file cannot drift into a stub.
# Deployment guide: docs/deploy.md.

ARG BUILD_IMAGE=node:22-bookworm
ARG RUNTIME_IMAGE=node:22-bookworm-slim

FROM ${BUILD_IMAGE} AS build
# better-sqlite3 compiles from source where no prebuilt binary can be fetched: it needs a
# C/C++ toolchain and python3 (node-gyp).
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential python3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN sh scripts/container-build.sh /app

FROM ${RUNTIME_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3978 \
    STORE_URL=sqlite:/data/mde-chatops.db
WORKDIR /app
# The application is owned by root and read-only for the bot; only /data is writable.
COPY --from=build /app /app
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node
EXPOSE 3978
# Liveness only: /readyz (store, MDE) is for orchestrators that route traffic.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 CMD ["node", "dist/src/healthcheck.js"]
# node is PID 1 and handles SIGTERM/SIGINT itself (graceful, bounded by
# SHUTDOWN_TIMEOUT_SECONDS, default 10 s); give `docker stop` more than that (-t 15).
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/main.js"]
