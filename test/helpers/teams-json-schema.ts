/**
 * A small JSON Schema validator (the draft-04/07 keywords the Teams manifest schema
 * uses), for tests while no validator package (ajv) is installed. A keyword it does not
 * know is an error, so a schema is never half-checked in silence.
 */

type Schema = Record<string, unknown> | boolean;

const ANNOTATIONS = new Set(['$schema', '$comment', '$id', 'id', 'title', 'description', 'default', 'examples', 'format', 'markdownDescription', 'deprecated']);
const KEYWORDS = new Set([
  '$ref', 'type', 'enum', 'const', 'properties', 'additionalProperties', 'required', 'items', 'minItems', 'maxItems', 'uniqueItems',
  'minLength', 'maxLength', 'pattern', 'minimum', 'maximum', 'minProperties', 'maxProperties', 'anyOf', 'oneOf', 'allOf', 'not',
  'if', 'then', 'else', 'definitions', 'patternProperties',
]);

export interface SchemaError {
  path: string;
  message: string;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function matchesType(value: unknown, type: string): boolean {
  const actual = typeOf(value);
  return actual === type || (type === 'number' && actual === 'integer');
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function resolveRef(root: Schema, ref: string): Schema {
  if (!ref.startsWith('#')) throw new Error(`only local $ref is supported: ${ref}`);
  let node: unknown = root;
  for (const raw of ref.slice(1).split('/').filter(Boolean)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    node = (node as Record<string, unknown>)?.[key];
    if (node === undefined) throw new Error(`unresolvable $ref ${ref}`);
  }
  return node as Schema;
}

export function validate(schema: Schema, value: unknown): SchemaError[] {
  const errors: SchemaError[] = [];
  check(schema, schema, value, '$', errors);
  return errors;
}

function check(root: Schema, schema: Schema, value: unknown, path: string, errors: SchemaError[]): void {
  if (schema === true) return;
  if (schema === false) return void errors.push({ path, message: 'no value is allowed here' });
  for (const key of Object.keys(schema)) {
    if (!KEYWORDS.has(key) && !ANNOTATIONS.has(key)) throw new Error(`schema keyword not supported by this validator: ${key} (at ${path})`);
  }
  const s = schema as Record<string, any>;
  const fail = (message: string) => errors.push({ path, message });

  if (s.$ref) check(root, resolveRef(root, s.$ref), value, path, errors);
  if (s.type !== undefined) {
    const types: string[] = Array.isArray(s.type) ? s.type : [s.type];
    if (!types.some((t) => matchesType(value, t))) fail(`expected ${types.join(' or ')}, got ${typeOf(value)}`);
  }
  if (s.enum && !s.enum.some((e: unknown) => deepEqual(e, value))) fail(`must be one of ${JSON.stringify(s.enum)}`);
  if ('const' in s && !deepEqual(s.const, value)) fail(`must be ${JSON.stringify(s.const)}`);

  if (typeof value === 'string') {
    const length = Array.from(value).length;
    if (s.minLength !== undefined && length < s.minLength) fail(`shorter than ${s.minLength}`);
    if (s.maxLength !== undefined && length > s.maxLength) fail(`longer than ${s.maxLength} (${length})`);
    if (s.pattern !== undefined && !new RegExp(s.pattern, 'u').test(value)) fail(`does not match ${s.pattern}`);
  }
  if (typeof value === 'number') {
    if (s.minimum !== undefined && value < s.minimum) fail(`below ${s.minimum}`);
    if (s.maximum !== undefined && value > s.maximum) fail(`above ${s.maximum}`);
  }
  if (Array.isArray(value)) {
    if (s.minItems !== undefined && value.length < s.minItems) fail(`fewer than ${s.minItems} items`);
    if (s.maxItems !== undefined && value.length > s.maxItems) fail(`more than ${s.maxItems} items (${value.length})`);
    if (s.uniqueItems && new Set(value.map((v) => JSON.stringify(v))).size !== value.length) fail('items are not unique');
    if (s.items !== undefined) {
      if (Array.isArray(s.items)) value.forEach((v, i) => s.items[i] !== undefined && check(root, s.items[i], v, `${path}[${i}]`, errors));
      else value.forEach((v, i) => check(root, s.items, v, `${path}[${i}]`, errors));
    }
  }
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj);
    if (s.minProperties !== undefined && keys.length < s.minProperties) fail(`fewer than ${s.minProperties} properties`);
    if (s.maxProperties !== undefined && keys.length > s.maxProperties) fail(`more than ${s.maxProperties} properties`);
    for (const name of s.required ?? []) if (!(name in obj)) fail(`missing required property ${name}`);
    const props: Record<string, Schema> = s.properties ?? {};
    const patterns: Record<string, Schema> = s.patternProperties ?? {};
    for (const key of keys) {
      let known = false;
      if (key in props) {
        known = true;
        check(root, props[key]!, obj[key], `${path}.${key}`, errors);
      }
      for (const [pattern, sub] of Object.entries(patterns)) {
        if (new RegExp(pattern, 'u').test(key)) {
          known = true;
          check(root, sub, obj[key], `${path}.${key}`, errors);
        }
      }
      if (!known && s.additionalProperties !== undefined) {
        if (s.additionalProperties === false) errors.push({ path: `${path}.${key}`, message: 'additional property not allowed' });
        else check(root, s.additionalProperties, obj[key], `${path}.${key}`, errors);
      }
    }
  }
  if (s.allOf) for (const sub of s.allOf) check(root, sub, value, path, errors);
  if (s.anyOf && !s.anyOf.some((sub: Schema) => validateAt(root, sub, value).length === 0)) fail('matches none of anyOf');
  if (s.oneOf && s.oneOf.filter((sub: Schema) => validateAt(root, sub, value).length === 0).length !== 1) fail('does not match exactly one of oneOf');
  if (s.not && validateAt(root, s.not, value).length === 0) fail('matches a schema it must not');
  if (s.if !== undefined) {
    const branch = validateAt(root, s.if, value).length === 0 ? s.then : s.else;
    if (branch !== undefined) check(root, branch, value, path, errors);
  }
}

function validateAt(root: Schema, schema: Schema, value: unknown): SchemaError[] {
  const errors: SchemaError[] = [];
  check(root, schema, value, '$', errors);
  return errors;
}
