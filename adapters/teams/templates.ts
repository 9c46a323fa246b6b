/**
 * The Adaptive Card templates of `cards/` (schema 1.5), loaded once and bound with
 * adaptivecards-templating. Data values are never evaluated as expressions, so text a
 * user typed (`${…}` included) reaches the card as it is.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * Loaded through `require` with a local type: the package's own typings import
 * `adaptivecards/src/*.ts` sources, which do not compile under this project's settings.
 */
interface Template {
  expand(context: { $root: unknown }): unknown;
}
const { Template } = createRequire(import.meta.url)('adaptivecards-templating') as { Template: new (payload: object) => Template };

export const CARD_TEMPLATES = ['list', 'detail', 'history', 'help', 'text', 'error', 'form', 'approval'] as const;
export type CardTemplate = (typeof CARD_TEMPLATES)[number];

export const BLOCK_TEMPLATES = ['heading', 'text', 'facts', 'table', 'records', 'code', 'buttons'] as const;
export type BlockTemplate = (typeof BLOCK_TEMPLATES)[number];

export type CardJson = Record<string, unknown>;

const CARDS_DIR = new URL('../../cards/', import.meta.url);

function load(path: string): Template {
  return new Template(JSON.parse(readFileSync(new URL(path, CARDS_DIR), 'utf8')) as object);
}

const cards = new Map(CARD_TEMPLATES.map((name) => [name, load(`${name}.json`)]));
const blocks = new Map(BLOCK_TEMPLATES.map((name) => [name, load(`blocks/${name}.json`)]));

/** Drops `null` members and array entries (templating leaves them for absent optional values). */
export function compact<T>(value: T): T {
  if (Array.isArray(value)) return value.filter((v) => v !== null && v !== undefined).map((v) => compact(v)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined) out[k] = compact(v);
    return out as T;
  }
  return value;
}

export function expandCard(name: CardTemplate, data: object): CardJson {
  return compact(cards.get(name)!.expand({ $root: data }) as CardJson);
}

export function expandBlock(name: BlockTemplate, data: object): CardJson {
  return compact(blocks.get(name)!.expand({ $root: data }) as CardJson);
}
