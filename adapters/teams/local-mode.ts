/**
 * Teams local mode (no `MicrosoftAppId`): botbuilder checks no JWT and would send its
 * replies, unauthenticated, to whatever `serviceUrl` an activity names. So `/api/messages`
 * answers only a peer on the loopback interface whose activity's `serviceUrl` is on
 * loopback too (the Agents Playground, the tests); anything else gets 401 before
 * botbuilder sees it. A loopback peer is not enough on its own: a web page in a local
 * browser (directly, or through DNS rebinding) and a reverse proxy on this machine are
 * loopback peers too, so the request's headers must also look like a local process
 * talking straight to the bot (`checkLocalHeaders`). With an app id, botbuilder's JWT
 * validation applies instead.
 */
import { isIPv4 } from 'node:net';

/** 127.0.0.0/8, `::1` and IPv4-mapped `::ffff:127.x.x.x` (Node's socket address forms). */
export function isLoopbackAddress(address: string | undefined | null): boolean {
  if (!address) return false;
  const a = address.trim().toLowerCase();
  if (a === '::1' || a === '0:0:0:0:0:0:0:1') return true;
  const v4 = a.startsWith('::ffff:') ? a.slice('::ffff:'.length) : a;
  return isIPv4(v4) && v4.split('.')[0] === '127';
}

/** An http(s) URL whose host is `localhost`, 127.x.x.x or `[::1]`. */
export function isLoopbackServiceUrl(url: unknown): boolean {
  if (typeof url !== 'string' || !URL.canParse(url)) return false;
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return false;
  if (parsed.username || parsed.password) return false;
  const host = parsed.hostname.toLowerCase();
  if (host === 'localhost' || host === '[::1]') return true;
  return isIPv4(host) && host.split('.')[0] === '127';
}

export type LocalCheck = { ok: true } | { ok: false; reason: string };

/** The local-mode gate for one request: the peer's address and the activity it sent. */
export function checkLocalRequest(remoteAddress: string | undefined, activity: unknown): LocalCheck {
  if (!isLoopbackAddress(remoteAddress)) {
    return { ok: false, reason: 'Teams local mode (no MicrosoftAppId) answers only requests from this machine' };
  }
  const serviceUrl = activity && typeof activity === 'object' ? (activity as { serviceUrl?: unknown }).serviceUrl : undefined;
  if (!isLoopbackServiceUrl(serviceUrl)) {
    return { ok: false, reason: 'Teams local mode (no MicrosoftAppId) answers only activities whose serviceUrl is on this machine' };
  }
  return { ok: true };
}

/**
 * Headers that mark a request as not coming straight from a local process: a browser
 * (a page can POST to loopback, and DNS rebinding can make that page same-origin) or a
 * reverse proxy forwarding someone else's request. A browser always sends `Origin` and
 * `Sec-Fetch-Site` on such a POST; `Sec-Fetch-Mode` alone is no sign of one (Node's own
 * `fetch` sends `sec-fetch-mode: cors`), so a local tool written with fetch is answered.
 */
export const REFUSED_LOCAL_HEADERS = [
  'origin',
  'sec-fetch-site',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-real-ip',
  'via',
] as const;

/** A `Host` header whose hostname is loopback: `localhost`, 127.x.x.x or `[::1]` (any port). */
export function isLoopbackHostHeader(host: unknown): boolean {
  if (typeof host !== 'string') return false;
  const value = host.trim();
  // host[:port] only: no userinfo, path, spaces or a second header's worth of text.
  if (!/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:[0-9]{1,5})?$/i.test(value)) return false;
  if (!URL.canParse(`http://${value}/`)) return false;
  const hostname = new URL(`http://${value}/`).hostname.toLowerCase();
  if (hostname === 'localhost' || hostname === '[::1]') return true;
  return isIPv4(hostname) && hostname.split('.')[0] === '127';
}

/** `application/json`, with or without parameters (`; charset=utf-8`). */
export function isJsonContentType(contentType: unknown): boolean {
  if (typeof contentType !== 'string') return false;
  return contentType.split(';')[0]!.trim().toLowerCase() === 'application/json';
}

/** Header names and values as Node gives them (`IncomingMessage.headers`: lower-case names). */
export type HeaderBag = Readonly<Record<string, string | string[] | undefined>>;

/**
 * The local-mode gate on a request's headers, checked before the body is read: a JSON
 * body, a loopback `Host` (a DNS-rebinding page sends its own host name), and none of
 * the browser or proxy headers above.
 */
export function checkLocalHeaders(headers: HeaderBag): LocalCheck {
  const present = REFUSED_LOCAL_HEADERS.filter((name) => headers[name] !== undefined);
  if (present.length > 0) {
    return { ok: false, reason: `Teams local mode (no MicrosoftAppId) refuses requests from a browser or through a proxy (header ${present.join(', ')})` };
  }
  const host = headers.host;
  if (!isLoopbackHostHeader(Array.isArray(host) ? host[0] : host)) {
    return { ok: false, reason: 'Teams local mode (no MicrosoftAppId) answers only requests addressed to localhost or a loopback address (Host header)' };
  }
  const contentType = headers['content-type'];
  if (!isJsonContentType(Array.isArray(contentType) ? contentType[0] : contentType)) {
    return { ok: false, reason: 'Teams local mode (no MicrosoftAppId) answers only requests with content-type application/json' };
  }
  return { ok: true };
}
