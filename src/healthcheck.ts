/**
 * The container's HEALTHCHECK (`node dist/src/healthcheck.js [path]`): exits 0 when the
 * bot on this machine's PORT answers `/healthz` (or the path given, e.g. `/readyz`) with
 * 2xx, 1 otherwise. The slim runtime image has no curl or wget.
 */
const port = process.env.PORT?.trim() || '3978';
const path = process.argv[2] ?? '/healthz';
const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(4000) }).catch(() => undefined);
process.exit(res?.ok ? 0 : 1);
