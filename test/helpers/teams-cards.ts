/**
 * Checks that a card parses as a valid Adaptive Card 1.5 with the `adaptivecards`
 * library (its UMD bundle: the package's `lib/` is ESM without file extensions, which
 * Node cannot load). Parse and validation events, elements or actions the 1.5 schema does
 * not know, and templating leftovers all count as problems.
 */
import { createRequire } from 'node:module';

interface AcEvent {
  phase?: number;
  event: number;
  message: string;
}
interface AcLib {
  AdaptiveCard: new () => {
    parse(json: unknown, context?: unknown): void;
    validateProperties(): { validationEvents: AcEvent[] };
    toJSON(context?: unknown): unknown;
  };
  SerializationContext: new (version?: unknown) => { eventCount: number; getEventAt(i: number): AcEvent };
  Versions: { v1_5: unknown };
  ValidationEvent: Record<number, string>;
}

const require = createRequire(import.meta.url);
const AC = require('adaptivecards/dist/adaptivecards.js') as AcLib;

/** Element and action types of Adaptive Cards 1.5 (the schema's `type` values). */
const KNOWN_TYPES = new Set([
  'AdaptiveCard', 'TextBlock', 'Image', 'Media', 'MediaSource', 'RichTextBlock', 'TextRun', 'Container', 'ColumnSet', 'Column', 'FactSet',
  'ImageSet', 'ActionSet', 'Table', 'TableRow', 'TableCell', 'Input.Text', 'Input.Number', 'Input.Date', 'Input.Time', 'Input.Toggle',
  'Input.ChoiceSet', 'Action.Execute', 'Action.Submit', 'Action.OpenUrl', 'Action.ShowCard', 'Action.ToggleVisibility',
]);

function walkTypes(node: unknown, path: string, problems: string[]): void {
  if (Array.isArray(node)) return node.forEach((n, i) => walkTypes(n, `${path}[${i}]`, problems));
  if (!node || typeof node !== 'object') {
    // A whole value left as `${…}` is a binding whose data was missing (user text may contain `${` anywhere).
    if (typeof node === 'string' && /^\$\{[^}]*\}$/.test(node)) problems.push(`${path}: unexpanded template expression ${node}`);
    return;
  }
  for (const [key, value] of Object.entries(node)) {
    if (key === 'type' && typeof value === 'string' && !path.endsWith('.data') && !KNOWN_TYPES.has(value)) problems.push(`${path}: unknown type ${value}`);
    if (key.startsWith('$') && key !== '$schema') problems.push(`${path}: templating keyword ${key} left in the card`);
    if (key === 'data') continue; // Action.Execute data is free-form
    walkTypes(value, `${path}.${key}`, problems);
  }
}

/** The problems found in a card; empty when it is a valid Adaptive Card 1.5. */
export function adaptiveCardProblems(card: unknown): string[] {
  const problems: string[] = [];
  if (!card || typeof card !== 'object') return ['not an object'];
  const c = card as Record<string, unknown>;
  if (c.type !== 'AdaptiveCard') problems.push(`type is ${String(c.type)}`);
  if (c.version !== '1.5') problems.push(`version is ${String(c.version)}, expected 1.5`);
  walkTypes(card, '$', problems);
  const parsed = new AC.AdaptiveCard();
  const context = new AC.SerializationContext(AC.Versions.v1_5);
  parsed.parse(card, context);
  for (let i = 0; i < context.eventCount; i++) {
    const e = context.getEventAt(i);
    problems.push(`parse: ${AC.ValidationEvent[e.event] ?? e.event}: ${e.message}`);
  }
  for (const e of parsed.validateProperties().validationEvents) problems.push(`validate: ${AC.ValidationEvent[e.event] ?? e.event}: ${e.message}`);
  return problems;
}

export function expectValidCard(card: unknown): void {
  const problems = adaptiveCardProblems(card);
  if (problems.length) throw new Error(`invalid Adaptive Card 1.5:\n  ${problems.join('\n  ')}\n${JSON.stringify(card).slice(0, 2000)}`);
}
