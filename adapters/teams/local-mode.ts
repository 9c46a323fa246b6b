/**
 * Teams local mode (no `MicrosoftAppId`): botbuilder checks no JWT and would send its
 * replies, unauthenticated, to whatever `serviceUrl` an activity names. So `/api/messages`
 * answers only a peer on the loopback interface whose activity's `serviceUrl` is on
 * loopback too (the Agents Playground, the tests); anything else gets 401 before
 * botbuilder sees it. With an app id, botbuilder's JWT validation applies instead.
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
