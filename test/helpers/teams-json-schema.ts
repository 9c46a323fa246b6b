/** Validates JSON against a draft-04 schema (the Teams manifest schema) with ajv. */
import AjvModule from 'ajv-draft-04';

// ajv-draft-04 is CommonJS with a default export; under NodeNext it arrives as the module object.
const Ajv = AjvModule.default;

export interface SchemaError {
  path: string;
  message: string;
}

export function validate(schema: object, value: unknown): SchemaError[] {
  const ajv = new Ajv({ allErrors: true, strict: false });
  const check = ajv.compile(schema);
  if (check(value)) return [];
  return (check.errors ?? []).map((e) => ({ path: e.instancePath || '/', message: e.message ?? 'invalid' }));
}
