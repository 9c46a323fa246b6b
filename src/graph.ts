/**
 * Microsoft Graph, for Entra ID groups in the policy file (`entra-group:<guid>`): the users
 * of a group, nested groups included, with the MDE app registration's token (application
 * permission `GroupMember.Read.All`). One call per page:
 *
 *   GET {GRAPH_API_URL}/v1.0/groups/{id}/transitiveMembers/microsoft.graph.user?$select=id,mail,userPrincipalName
 *
 * `@odata.nextLink` is followed by its path and query on the configured base URL only, so
 * the token never goes to another host. Answers are cached by the core (directory.ts).
 */
import { z } from 'zod';
import type { TokenProvider } from './mde/token.js';

export interface GraphOptions {
  /** `https://graph.microsoft.com` (GRAPH_API_URL), or the emulator. */
  baseUrl: string;
  tokens: TokenProvider;
  /** One request's time limit (default 10 s). */
  timeoutMs?: number;
  /** The most pages one group may take (default 50: about 5,000 users at Graph's 100 a page). */
  maxPages?: number;
}

export interface EntraUser {
  id: string;
  mail?: string | null;
  userPrincipalName?: string | null;
}

const pageSchema = z.object({
  value: z.array(z.object({ id: z.string().min(1), mail: z.string().nullish(), userPrincipalName: z.string().nullish() })),
  '@odata.nextLink': z.string().nullish(),
});

const errorSchema = z.object({ error: z.object({ code: z.string().optional(), message: z.string().optional() }) });

export class GraphError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'GraphError';
  }
}

export function createGraphGroups(options: GraphOptions) {
  const base = new URL(options.baseUrl);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxPages = options.maxPages ?? 50;

  async function get(url: URL, retried = false): Promise<unknown> {
    let token: string;
    try {
      token = await options.tokens.getToken(retried ? { forceRefresh: true } : {});
    } catch (error) {
      throw new GraphError(`no token for Microsoft Graph (${(error as Error).message})`);
    }
    let response: Response;
    try {
      response = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      const cause = (error as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : ((error as { cause?: Error }).cause?.message ?? (error as Error).message);
      throw new GraphError(`${base.origin} did not answer (${cause})`);
    }
    const text = await response.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (response.status === 401 && !retried) return get(url, true);
    if (!response.ok) throw new GraphError(explain(response.status, errorSchema.safeParse(body).data?.error), response.status);
    return body;
  }

  return {
    /** Every user in the group, nested groups included. Throws GraphError. */
    async transitiveUsers(groupId: string): Promise<EntraUser[]> {
      const users: EntraUser[] = [];
      let url: URL | undefined = new URL(`${base.pathname.replace(/\/+$/, '')}/v1.0/groups/${encodeURIComponent(groupId)}/transitiveMembers/microsoft.graph.user`, base);
      url.searchParams.set('$select', 'id,mail,userPrincipalName');
      for (let page = 0; url; page++) {
        if (page >= maxPages) throw new GraphError(`the group ${groupId} has more than ${maxPages} pages of members`);
        const parsed = pageSchema.safeParse(await get(url));
        if (!parsed.success) throw new GraphError(`an answer for group ${groupId} was not a list of users`);
        users.push(...parsed.data.value);
        const link = parsed.data['@odata.nextLink'];
        url = link ? onBase(link) : undefined;
      }
      return users;
    },
  };

  /** A nextLink's path and query on the configured base: never another host. */
  function onBase(link: string): URL {
    let next: URL;
    try {
      next = new URL(link, base);
    } catch {
      throw new GraphError('a nextLink was not a URL');
    }
    return new URL(`${next.pathname}${next.search}`, base);
  }
}

function explain(status: number, error: { code?: string; message?: string } | undefined): string {
  const said = error?.message ? `: ${error.message.slice(0, 200)}` : '';
  if (status === 404) return `Graph answered 404 (no such group; check the entra-group id in the policy file)${said}`;
  if (status === 403) return `Graph answered 403 (the app registration needs the application permission GroupMember.Read.All, with admin consent)${said}`;
  if (status === 401) return `Graph answered 401 (the token was refused)${said}`;
  return `Graph answered ${status}${error?.code ? ` ${error.code}` : ''}${said}`;
}

export type GraphGroups = ReturnType<typeof createGraphGroups>;
