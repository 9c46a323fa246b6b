/**
 * A Microsoft Graph stub beside the MDE emulator: the one call the bot makes,
 * `GET /v1.0/groups/{id}/transitiveMembers/microsoft.graph.user?$select=…`, over seeded
 * Entra users and groups (nested groups count, as in Graph), with paging by
 * `@odata.nextLink`, Graph's 400/404 bodies, and an outage switch for tests.
 */
import type { ApiResult, Json } from './http.js';

export interface GraphUser {
  id: string;
  displayName: string;
  mail: string | null;
  userPrincipalName: string;
}

export interface GraphGroup {
  id: string;
  displayName: string;
  /** User ids and group ids (nested groups). */
  members: string[];
}

/** Fixed ids: the demo users of demo.ts, and the groups DESIGN.md's example file names. */
export const GRAPH_SEED = {
  users: [
    { id: '11111111-1111-4111-8111-111111111111', displayName: 'Olivia Operator', mail: 'olivia@contoso.com', userPrincipalName: 'olivia@contoso.onmicrosoft.com' },
    { id: '22222222-2222-4222-8222-222222222222', displayName: 'Adam Approver', mail: 'adam@contoso.com', userPrincipalName: 'adam@contoso.onmicrosoft.com' },
    { id: '33333333-3333-4333-8333-333333333333', displayName: 'Bea Boss', mail: null, userPrincipalName: 'bea@contoso.com' },
  ] satisfies GraphUser[],
  groups: {
    /** SOC analysts: Olivia, and (nested) the SOC leads. */
    analysts: '3f9c0b1e-0000-4000-8000-000000000001',
    /** SOC leads: Adam and Bea. */
    leads: '3f9c0b1e-0000-4000-8000-000000000002',
  },
} as const;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_TOP = 999;

function graphError(status: number, code: string, message: string): ApiResult {
  return { status, body: { error: { code, message, innerError: { date: new Date().toISOString(), 'request-id': crypto.randomUUID() } } } };
}

export class GraphStub {
  readonly users = new Map<string, GraphUser>();
  readonly groups = new Map<string, GraphGroup>();
  /** Requests to the Graph routes (answered or not), by path pattern. */
  readonly requests = new Map<string, number>();
  /** When set, every Graph request gets this status (an outage); `null` serves again. */
  outage: number | null = null;
  /** The origin written into nextLinks (Graph's own host name), instead of the one the caller used. */
  linkOrigin: string | undefined;

  constructor(private readonly pageSize: number) {}

  seed(): void {
    for (const user of GRAPH_SEED.users) this.addUser(user);
    const [olivia, adam, bea] = GRAPH_SEED.users.map((u) => u.id);
    this.addGroup({ id: GRAPH_SEED.groups.leads, displayName: 'SOC leads', members: [adam!, bea!] });
    this.addGroup({ id: GRAPH_SEED.groups.analysts, displayName: 'SOC analysts', members: [olivia!, GRAPH_SEED.groups.leads] });
  }

  addUser(user: GraphUser): void {
    this.users.set(user.id.toLowerCase(), { ...user, id: user.id.toLowerCase() });
  }

  addGroup(group: GraphGroup): void {
    this.groups.set(group.id.toLowerCase(), { ...group, id: group.id.toLowerCase(), members: group.members.map((m) => m.toLowerCase()) });
  }

  /** How many requests reached the Graph routes. */
  count(): number {
    return [...this.requests.values()].reduce((a, b) => a + b, 0);
  }

  /** Users of the group and of every group nested in it, each once, in a stable order. */
  private transitiveUsers(groupId: string): GraphUser[] {
    const out = new Map<string, GraphUser>();
    const seen = new Set<string>();
    const walk = (id: string) => {
      if (seen.has(id)) return;
      seen.add(id);
      for (const member of this.groups.get(id)?.members ?? []) {
        const user = this.users.get(member);
        if (user) out.set(user.id, user);
        else if (this.groups.has(member)) walk(member);
      }
    };
    walk(groupId);
    return [...out.values()];
  }

  /** Answers a `/v1.0/…` request, or null when the path is not Graph's. */
  handle(method: string, segments: readonly string[], query: URLSearchParams, baseUrl: string): ApiResult | null {
    if (segments[0]?.toLowerCase() !== 'v1.0') return null;
    const [, groups, id, transitive, cast] = segments;
    const isMembers = segments.length === 5 && groups?.toLowerCase() === 'groups' && transitive?.toLowerCase() === 'transitivemembers' && cast?.toLowerCase() === 'microsoft.graph.user';
    const key = isMembers ? 'GET /v1.0/groups/{id}/transitiveMembers/microsoft.graph.user' : 'other';
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    if (this.outage !== null) return graphError(this.outage, 'serviceNotAvailable', 'Service unavailable (emulated outage).');
    if (!isMembers) return graphError(400, 'BadRequest', `Resource not found for the segment '${segments.slice(1).join('/')}'.`);
    if (method !== 'GET') return { status: 405, headers: { allow: 'GET' }, body: { error: { code: 'Request_BadRequest', message: 'Only GET is supported here.' } } };
    const groupId = decodeURIComponent(id ?? '');
    if (!GUID.test(groupId)) return graphError(400, 'Request_BadRequest', `Invalid object identifier '${groupId}'.`);
    if (!this.groups.has(groupId.toLowerCase())) {
      return graphError(404, 'Request_ResourceNotFound', `Resource '${groupId}' does not exist or one of its queried reference-property objects are not present.`);
    }
    const top = Math.min(MAX_TOP, Number(query.get('$top')) || this.pageSize);
    const skip = Math.max(0, Number(query.get('$skiptoken')) || 0);
    const select = (query.get('$select') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    const all = this.transitiveUsers(groupId.toLowerCase());
    const page = all.slice(skip, skip + top).map((u) => pick(u, select));
    const body: { [key: string]: Json } = { '@odata.context': `${baseUrl}/v1.0/$metadata#users(${select.join(',')})`, value: page };
    if (skip + top < all.length) {
      const next = new URLSearchParams(query);
      next.set('$skiptoken', String(skip + top));
      body['@odata.nextLink'] = `${this.linkOrigin ?? baseUrl}/v1.0/groups/${groupId}/transitiveMembers/microsoft.graph.user?${next.toString()}`;
    }
    return { status: 200, body };
  }
}

function pick(user: GraphUser, select: readonly string[]): { [key: string]: Json } {
  const full: { [key: string]: Json } = { '@odata.type': '#microsoft.graph.user', ...user };
  if (select.length === 0) return full;
  return Object.fromEntries(Object.entries(full).filter(([k]) => k === 'id' || select.includes(k)));
}
