/** The bits of OData the emulated endpoints understand: `$top`, `$skip`, `$filter`, nextLink. */
import { ApiError, type Json } from './http.js';

export interface Paging {
  top: number | undefined;
  skip: number;
}

/** Query parameters are matched case-insensitively (`$top`, `$Top`). */
export function queryParam(query: URLSearchParams, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of query) if (key.toLowerCase() === wanted) return value;
  return undefined;
}

function nonNegativeInt(query: URLSearchParams, name: string): number | undefined {
  const raw = queryParam(query, name);
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw.trim())) throw new ApiError(400, 'BadRequest', `Invalid value '${raw}' for ${name}: a non-negative integer is required.`);
  return Number(raw.trim());
}

export function readPaging(query: URLSearchParams, maxTop: number): Paging {
  const top = nonNegativeInt(query, '$top');
  if (top !== undefined && top > maxTop) throw new ApiError(400, 'BadRequest', `Invalid value ${top} for $top: the maximum is ${maxTop}.`);
  return { top, skip: nonNegativeInt(query, '$skip') ?? 0 };
}

/**
 * Like MDE: with `$top` the caller gets exactly that slice and no nextLink; without it,
 * one server page and a nextLink when more items follow.
 */
export function pageOf<T>(items: readonly T[], paging: Paging, pageSize: number, link: { baseUrl: string; pathname: string; query: URLSearchParams }): { value: T[]; nextLink?: string } {
  if (paging.top !== undefined) return { value: items.slice(paging.skip, paging.skip + paging.top) };
  const end = paging.skip + pageSize;
  const value = items.slice(paging.skip, end);
  return end < items.length ? { value, nextLink: nextLink(link, end) } : { value };
}

/**
 * A listing whose paging follows the tenant's mode: `topSkip` as pageOf; `ignoreTopSkip`
 * the whole list whatever `$top`/`$skip` say; `nextLink` server-driven pages of at most
 * `pageSize` items, with a nextLink (carrying the rest of `$top`) while more follow.
 */
export function listPage<T>(
  items: readonly T[],
  mode: 'topSkip' | 'ignoreTopSkip' | 'nextLink',
  paging: Paging,
  pageSize: number,
  link: { baseUrl: string; pathname: string; query: URLSearchParams },
): { value: T[]; nextLink?: string } {
  if (mode === 'ignoreTopSkip') return { value: [...items] };
  if (mode === 'topSkip') return pageOf(items, paging, pageSize, link);
  const wanted = paging.top ?? Number.POSITIVE_INFINITY;
  const take = Math.min(wanted, pageSize);
  const end = Math.min(paging.skip + take, items.length);
  const value = items.slice(paging.skip, end);
  const rest = wanted - value.length;
  if (end >= items.length || rest <= 0) return { value };
  return { value, nextLink: nextLink(link, end, paging.top === undefined ? undefined : rest) };
}

function nextLink(link: { baseUrl: string; pathname: string; query: URLSearchParams }, skip: number, top?: number): string {
  const params: string[] = [];
  for (const [key, value] of link.query) {
    const lower = key.toLowerCase();
    if (lower === '$skip' || (top !== undefined && lower === '$top')) continue;
    params.push(`${encodeURIComponent(key).replace(/^%24/, '$')}=${encodeURIComponent(value)}`);
  }
  if (top !== undefined) params.push(`$top=${top}`);
  params.push(`$skip=${skip}`);
  return `${link.baseUrl}${link.pathname}?${params.join('&')}`;
}

/** `{"@odata.context", value, "@odata.nextLink"?}` */
export function collection(context: string, page: { value: Json[]; nextLink?: string }): Json {
  const body: Record<string, Json> = { '@odata.context': context, value: page.value };
  if (page.nextLink !== undefined) body['@odata.nextLink'] = page.nextLink;
  return body;
}

const QUOTED = "'((?:[^']|'')*)'";
const EQ = new RegExp(`^\\s*(\\w+)\\s+eq\\s+${QUOTED}\\s*$`, 'i');
const LITERAL = "'(?:[^']|'')*'";
const IN = new RegExp(`^\\s*(\\w+)\\s+in\\s*\\(\\s*(${LITERAL}(?:\\s*,\\s*${LITERAL})*)\\s*\\)\\s*$`, 'i');
const QUOTED_GLOBAL = new RegExp(QUOTED, 'g');
const STARTSWITH = new RegExp(`^\\s*startswith\\(\\s*(\\w+)\\s*,\\s*${QUOTED}\\s*\\)\\s*$`, 'i');

export type RecordFilter = (record: Record<string, unknown>) => boolean;

/**
 * `<property> eq '<text>'`, `<property> in ('<a>','<b>',…)` or
 * `startswith(<property>,'<text>')`, joined by ` and `; `''` inside quotes is one quote.
 * Comparisons ignore case, as MDE's do for names.
 */
export function parseFilter(expression: string | undefined, properties: readonly string[]): RecordFilter {
  if (expression === undefined || expression.trim() === '') return () => true;
  const clauses = splitAnd(expression).map((clause) => parseClause(clause, properties));
  return (record) => clauses.every((test) => test(record));
}

/** Splits on ` and ` outside quoted strings. */
function splitAnd(expression: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < expression.length; i++) {
    const ch = expression[i] ?? '';
    if (ch === "'") quoted = !quoted;
    if (!quoted && /^\sand\s/i.test(expression.slice(i, i + 5))) {
      parts.push(current);
      current = '';
      i += 4;
      continue;
    }
    current += ch;
  }
  parts.push(current);
  return parts;
}

function parseClause(clause: string, properties: readonly string[]): RecordFilter {
  const list = IN.exec(clause);
  if (list !== null) {
    const property = knownProperty(list[1] ?? '', properties);
    const wanted = new Set([...(list[2] ?? '').matchAll(QUOTED_GLOBAL)].map((m) => (m[1] ?? '').replace(/''/g, "'").toLowerCase()));
    return (record) => {
      const value = record[property];
      return typeof value === 'string' && wanted.has(value.toLowerCase());
    };
  }
  const eq = EQ.exec(clause);
  const starts = eq === null ? STARTSWITH.exec(clause) : null;
  const match = eq ?? starts;
  if (match === null) throw new ApiError(400, 'BadRequest', `Unsupported $filter clause "${clause.trim()}": use <property> eq '<value>', <property> in ('<value>',…) or startswith(<property>,'<value>').`);
  const property = knownProperty(match[1] ?? '', properties);
  const wanted = (match[2] ?? '').replace(/''/g, "'").toLowerCase();
  return (record) => {
    const value = record[property];
    if (typeof value !== 'string') return false;
    return eq !== null ? value.toLowerCase() === wanted : value.toLowerCase().startsWith(wanted);
  };
}

function knownProperty(name: string, properties: readonly string[]): string {
  const property = properties.find((p) => p.toLowerCase() === name.toLowerCase());
  if (property === undefined) throw new ApiError(400, 'BadRequest', `Unknown property "${name}" in $filter; known: ${properties.join(', ')}.`);
  return property;
}
