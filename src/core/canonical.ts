/**
 * Canonical JSON and hashing: an approval is bound to the exact operation through the
 * SHA-256 of its canonical JSON. Canonical means: object keys sorted recursively (by
 * UTF-16 code units, as `Array.prototype.sort` does), no whitespace, numbers and strings
 * serialized as `JSON.stringify` does (the ES number form, as in RFC 8785). Values JSON
 * cannot represent faithfully (NaN, Infinity, bigint, functions, symbols, cycles) are
 * refused instead of being silently changed, so two different inputs never share a form.
 */
import { createHash } from 'node:crypto';

export function canonicalJson(value: unknown): string {
  const out = serialize(value, new Set<object>(), '$');
  if (out === undefined) throw new TypeError('canonicalJson: the value is not representable as JSON (undefined, function or symbol)');
  return out;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}


function serialize(value: unknown, seen: Set<object>, path: string): string | undefined {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: ${path} is ${String(value)}, which JSON cannot represent`);
      return JSON.stringify(value); // -0 becomes 0, as in JSON.stringify
    case 'bigint':
      throw new TypeError(`canonicalJson: ${path} is a bigint, which JSON cannot represent`);
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'object':
      break;
  }
  const obj = value as object;
  const withToJson = obj as { toJSON?: unknown };
  if (typeof withToJson.toJSON === 'function') {
    return serialize((withToJson.toJSON as () => unknown).call(obj), seen, path);
  }
  if (seen.has(obj)) throw new TypeError(`canonicalJson: ${path} is a circular reference`);
  seen.add(obj);
  try {
    if (Array.isArray(obj)) {
      const items = obj.map((item, i) => serialize(item, seen, `${path}[${i}]`) ?? 'null');
      return `[${items.join(',')}]`;
    }
    if (obj instanceof Map || obj instanceof Set) {
      throw new TypeError(`canonicalJson: ${path} is a ${obj instanceof Map ? 'Map' : 'Set'}, which JSON cannot represent`);
    }
    const record = obj as Record<string, unknown>;
    const parts: string[] = [];
    for (const key of Object.keys(record).sort()) {
      const item = serialize(record[key], seen, `${path}.${key}`);
      if (item !== undefined) parts.push(`${JSON.stringify(key)}:${item}`);
    }
    return `{${parts.join(',')}}`;
  } finally {
    seen.delete(obj);
  }
}
