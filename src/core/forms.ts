/**
 * Forms: the create and update forms as platform-neutral `FormSpec`s, and the one zod
 * schema per form that turns a submission (Slack modal state flattened to strings, Teams
 * card inputs) into an `Operation`, with errors keyed by form field name.
 *
 * Field names are stable identifiers: adapters use them as block ids / input ids.
 *
 * `showWhen` has one condition per field and is transitive: a field whose controlling
 * field is hidden is hidden too (`domain` → `windowsCredential` → `scanType`). Fields that
 * serve both scan types (`username`, `keyVaultUrl`, `keyVaultSecretName`) have no
 * `showWhen`; their labels and hints say when they apply. Adapters that cannot hide
 * fields show them all; a submission ignores every field that does not apply to the
 * chosen scan type, SNMP type and credential style.
 *
 * Submitted values may be strings, one-element string arrays, booleans or numbers; empty
 * strings count as missing. A toggle is on for `true`/"true"/"on"/"yes"/"1" or a non-empty
 * selection, and off when missing (Slack leaves out an unticked checkbox), empty or
 * "false". Secrets are never prefilled and never quoted in an error.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { TARGET_TYPES, SCAN_TYPES, type ScanAgent, type ScanDefinition, type ScanType, type TargetType } from '../mde/entities.js';
import {
  SNMP_AUTH_ODATA,
  SNMP_AUTH_TYPES,
  SNMP_FIELDS,
  WINDOWS_AUTH_ODATA,
  authParamsSchema,
  intervalSchema,
  machineIdSchema,
  normaliseTargets,
  scanNameSchema,
  targetProblems,
} from '../mde/requests.js';
import { createOperationSchema, type CreateOperation } from './commands/scans-create.js';
import { updateOperationSchema, type UpdateOperation } from './commands/scans-update.js';
import type { FormField, FormSpec } from './reply.js';

/** The longest value any field accepts. */
export const MAX_VALUE_LENGTH = 2000;

export type { CreateOperation, UpdateOperation };
export type SubmissionResult<T> = { ok: true; operation: T } | { ok: false; errors: Record<string, string>; message: string };

interface FormInput {
  /** A previous submission, for re-rendering after an error (secrets are dropped). */
  values?: Record<string, string>;
  /** Field errors by field name. */
  errors?: Record<string, string>;
  /** A form-level error. */
  error?: string;
}

// ---------------------------------------------------------------------------------------
// Field definitions

type FieldDef = FormField & { default?: string };

const opts = (...pairs: Array<[string, string]>) => pairs.map(([value, label]) => ({ value, label }));
const when = (field: string, ...values: string[]) => ({ field, values });

const WINDOWS_CREDENTIALS = ['gmsa', 'keyVault'] as const;
const SNMP_CREDENTIALS = ['inline', 'keyVault'] as const;
const WINDOWS_AUTH_TYPES = ['Kerberos', 'Negotiate'] as const;
const AUTH_PROTOCOLS = ['MD5', 'SHA1'] as const;
const PRIV_PROTOCOLS = ['DES', '3DES', 'AES'] as const;

const scanTypeField = (dflt: ScanType): FieldDef => ({
  name: 'scanType',
  label: 'Scan type',
  kind: 'choice',
  required: true,
  options: opts(['Windows', 'Windows devices'], ['Network', 'Network devices (SNMP)']),
  default: dflt,
});

/** Fields shared by the create and update forms. */
const DEFINITION_FIELDS: readonly FieldDef[] = [
  { name: 'scanName', label: 'Scan name', kind: 'text', required: true, placeholder: 'Weekly servers', hint: 'At most 256 characters.' },
  {
    name: 'target',
    label: 'Targets',
    kind: 'text',
    required: true,
    placeholder: '10.0.0.5, 10.0.0.6',
    hint: 'A comma-separated list of IP addresses or host names, as the target type says.',
  },
  { name: 'targetType', label: 'Target type', kind: 'choice', required: true, options: opts(['Ip', 'IP address'], ['Hostname', 'Host name']), default: 'Ip' },
  { name: 'intervalInHours', label: 'Interval (hours)', kind: 'number', required: true, hint: 'Hours between scans, 1 to 8760.', default: '24' },
  { name: 'active', label: 'Active', kind: 'toggle', required: false, hint: 'Run the scan on its schedule; off saves it paused.', default: 'true' },
];

const SNMP_AUTH_TYPES_WITH = (field: string) => SNMP_AUTH_TYPES.filter((t) => (SNMP_FIELDS[t] as readonly string[]).includes(field));

/** The credential fields of the create form. */
const CREDENTIAL_FIELDS: readonly FieldDef[] = [
  {
    name: 'windowsAuthType',
    label: 'Windows authentication (Windows scans)',
    kind: 'choice',
    required: false,
    options: opts(['Kerberos', 'Kerberos'], ['Negotiate', 'Negotiate (falls back to NTLM)']),
    default: 'Kerberos',
    showWhen: when('scanType', 'Windows'),
  },
  {
    name: 'windowsCredential',
    label: 'Windows credential (Windows scans)',
    kind: 'choice',
    required: false,
    options: opts(['gmsa', 'gMSA account (user name and domain)'], ['keyVault', 'Azure Key Vault secret']),
    default: 'gmsa',
    showWhen: when('scanType', 'Windows'),
  },
  {
    name: 'snmpType',
    label: 'SNMP authentication (Network scans)',
    kind: 'choice',
    required: false,
    options: opts(...SNMP_AUTH_TYPES.map((t): [string, string] => [t, t])),
    default: 'NoAuthNoPriv',
    showWhen: when('scanType', 'Network'),
  },
  {
    name: 'snmpCredential',
    label: 'SNMP credential (Network scans)',
    kind: 'choice',
    required: false,
    options: opts(['inline', 'Enter it in this form'], ['keyVault', 'Azure Key Vault secret']),
    default: 'inline',
    showWhen: when('scanType', 'Network'),
  },
  {
    name: 'username',
    label: 'User name (Windows gMSA; SNMP NoAuthNoPriv, AuthNoPriv, AuthPriv)',
    kind: 'text',
    required: false,
    hint: 'Windows: the gMSA account. Network: the SNMP user. Not used with Key Vault.',
  },
  { name: 'domain', label: 'Domain (Windows gMSA)', kind: 'text', required: false, placeholder: 'contoso.com', showWhen: when('windowsCredential', 'gmsa') },
  {
    name: 'communityString',
    label: 'SNMP community string (CommunityString)',
    kind: 'secret',
    required: false,
    hint: 'Not used with Key Vault.',
    showWhen: when('snmpType', ...SNMP_AUTH_TYPES_WITH('communityString')),
  },
  {
    name: 'authProtocol',
    label: 'SNMP auth protocol (AuthNoPriv, AuthPriv)',
    kind: 'choice',
    required: false,
    options: opts(...AUTH_PROTOCOLS.map((p): [string, string] => [p, p])),
    default: 'SHA1',
    showWhen: when('snmpType', ...SNMP_AUTH_TYPES_WITH('authProtocol')),
  },
  {
    name: 'authPassword',
    label: 'SNMP auth password (AuthNoPriv, AuthPriv)',
    kind: 'secret',
    required: false,
    hint: 'Not used with Key Vault.',
    showWhen: when('snmpType', ...SNMP_AUTH_TYPES_WITH('authPassword')),
  },
  {
    name: 'privProtocol',
    label: 'SNMP privacy protocol (AuthPriv)',
    kind: 'choice',
    required: false,
    options: opts(...PRIV_PROTOCOLS.map((p): [string, string] => [p, p])),
    default: 'AES',
    showWhen: when('snmpType', ...SNMP_AUTH_TYPES_WITH('privProtocol')),
  },
  {
    name: 'privPassword',
    label: 'SNMP privacy password (AuthPriv)',
    kind: 'secret',
    required: false,
    hint: 'Not used with Key Vault.',
    showWhen: when('snmpType', ...SNMP_AUTH_TYPES_WITH('privPassword')),
  },
  {
    name: 'keyVaultUrl',
    label: 'Key Vault URL (Key Vault credential)',
    kind: 'text',
    required: false,
    placeholder: 'https://my-vault.vault.azure.net',
    hint: 'An https URL; only when the credential is a Key Vault secret.',
  },
  {
    name: 'keyVaultSecretName',
    label: 'Key Vault secret name (Key Vault credential)',
    kind: 'text',
    required: false,
    hint: 'Windows: the secret holds Domain;Username. SNMP: Username;AuthPassword;PrivPassword (AuthPriv), Username;AuthPassword (AuthNoPriv) or the community string.',
  },
];

const SECRET_FIELDS = CREDENTIAL_FIELDS.filter((f) => f.kind === 'secret').map((f) => f.name);

/**
 * What a submitted form asks for, as a digest: the same form sent again (a replay, a
 * retry, a second click) has the same one. Secret fields are left out, so the digest never
 * carries anything derived from a password.
 */
export function submissionFingerprint(submission: { kind: string; definitionId?: string; values: Record<string, unknown> }): string {
  const values = Object.entries(submission.values)
    .filter(([name, value]) => !SECRET_FIELDS.includes(name) && (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash('sha256').update(JSON.stringify([submission.kind, submission.definitionId ?? null, values])).digest('hex');
}

function agentField(agents: readonly ScanAgent[]): FieldDef {
  const seen = new Set<string>();
  const options: Array<{ value: string; label: string }> = [];
  for (const agent of agents) {
    const value = agent.machineId.trim().toLowerCase();
    if (value === '' || seen.has(value)) continue;
    seen.add(value);
    options.push({ value, label: agent.computerDnsName?.trim() || agent.machineId });
  }
  const only = options.length === 1 ? options[0]?.value : undefined;
  return {
    name: 'agent',
    label: 'Scanner agent',
    kind: 'choice',
    required: true,
    options,
    hint: options.length === 0 ? 'No scanner agents are registered in Defender for Endpoint.' : 'The device that runs the scan.',
    ...(only ? { default: only } : {}),
  };
}

/** Short labels for messages ("SNMP auth password", not the whole label). */
const shortLabel = (f: FormField) => f.label.replace(/\s*\([^)]*\)$/, '');
const LABELS: Record<string, string> = Object.fromEntries(
  [scanTypeField('Windows'), ...DEFINITION_FIELDS, agentField([]), ...CREDENTIAL_FIELDS].map((f) => [f.name, shortLabel(f)]),
);

// ---------------------------------------------------------------------------------------
// Form specs

function own(values: Record<string, unknown> | undefined, name: string): unknown {
  return values !== undefined && Object.hasOwn(values, name) ? values[name] : undefined;
}

function prefill(def: FieldDef, values: Record<string, string> | undefined): string | undefined {
  if (def.kind === 'secret') return undefined;
  if (def.kind === 'toggle') {
    if (values === undefined) return def.default;
    const on = readToggle(own(values, def.name));
    return on === undefined ? def.default : String(on);
  }
  const given = own(values, def.name);
  if (typeof given !== 'string') return def.default;
  const text = given.trim();
  if (def.kind === 'choice') return matchChoice(text, (def.options ?? []).map((o) => o.value)) ?? def.default;
  return text === '' ? undefined : text.slice(0, MAX_VALUE_LENGTH);
}

function render(defs: readonly FieldDef[], input: FormInput): FormField[] {
  return defs.map(({ default: _default, ...field }) => {
    const out: FormField = { ...field };
    const value = prefill({ ...field, default: _default }, input.values);
    if (value !== undefined) out.value = value;
    const error = own(input.errors, field.name);
    if (typeof error === 'string' && error !== '') out.error = error;
    return out;
  });
}

/** The create form: every field of the MDE create request, credentials included. */
export function createFormSpec(input: FormInput & { agents: ScanAgent[]; scanType?: ScanType }): FormSpec {
  const agent = agentField(input.agents);
  const defs = [scanTypeField(input.scanType ?? 'Windows'), ...DEFINITION_FIELDS, agent, ...CREDENTIAL_FIELDS];
  const error = input.error ?? (agent.options?.length === 0 ? 'No scanner agents are registered: a scan needs one to run on.' : undefined);
  return { kind: 'create', title: 'New authenticated scan', fields: render(defs, input), submitLabel: 'Create', ...(error ? { error } : {}) };
}

/** Credential fields of one scan type, shown only when the user chooses to replace them. */
function replacementCredentialFields(scanType: ScanType): FieldDef[] {
  const other = scanType === 'Windows' ? 'Network' : 'Windows';
  const relevant = CREDENTIAL_FIELDS.filter((f) => !(f.showWhen?.field === 'scanType' && f.showWhen.values.includes(other)))
    .filter((f) => (scanType === 'Windows' ? !SNMP_ONLY.has(f.name) : f.name !== 'domain'));
  return relevant.map((f) => (f.showWhen === undefined || f.showWhen.field === 'scanType' ? { ...f, showWhen: when('credentials', 'replace') } : f));
}
const SNMP_ONLY = new Set(['communityString', 'authProtocol', 'authPassword', 'privProtocol', 'privPassword']);

const CREDENTIALS_CHOICE: FieldDef = {
  name: 'credentials',
  label: 'Credentials',
  kind: 'choice',
  required: false,
  options: opts(['keep', 'Keep the current credentials'], ['replace', 'Replace them']),
  default: 'keep',
  hint: 'Defender never returns stored credentials; replace them to rotate a password or change the account.',
};

/** The fields an update form's baseline holds: what it is prefilled with, secrets never. */
export const BASELINE_FIELDS = ['scanName', 'target', 'targetType', 'intervalInHours', 'active', 'agent', 'credentials'] as const;
const BASELINE_NAMES: ReadonlySet<string> = new Set(BASELINE_FIELDS);

/**
 * The shape of a baseline read back from a platform (Slack `private_metadata`, Teams
 * action data): a small string record. Adapters ignore a baseline that does not fit it.
 */
export const baselineSchema = z
  .record(z.string().regex(/^[A-Za-z]{1,64}$/), z.string().max(MAX_VALUE_LENGTH))
  .refine((b) => Object.keys(b).length <= 20, { error: 'too many baseline fields' });

/** A baseline as it came back from an adapter: known fields with string values only; undefined when none is left. */
export function cleanBaseline(raw: unknown): Record<string, string> | undefined {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const out: Record<string, string> = {};
  for (const name of BASELINE_FIELDS) {
    const v = own(raw as Record<string, unknown>, name);
    if (typeof v === 'string' && v.length <= MAX_VALUE_LENGTH) out[name] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * The update form: the definition's fields prefilled, its scanner agent, and optionally new
 * credentials. `baseline` is what the form was first prefilled with; a re-rendered form
 * (after an error) passes the one it was opened with, else it is taken from the definition.
 */
export function updateFormSpec(input: FormInput & { definition: ScanDefinition; agents?: ScanAgent[]; baseline?: Record<string, string> }): FormSpec {
  const d = input.definition;
  const current: Record<string, string | undefined> = {
    scanName: d.scanName ?? undefined,
    target: d.target ?? undefined,
    targetType: d.targetType ?? undefined,
    intervalInHours: d.intervalInHours === null ? undefined : String(d.intervalInHours),
    active: d.isActive === null ? undefined : String(d.isActive),
    agent: d.scannerAgent?.machineId?.toLowerCase() ?? undefined,
  };
  const agents = input.agents ? [{ ...agentField(input.agents), required: false }] : [];
  const credentials = d.scanType ? [CREDENTIALS_CHOICE, ...replacementCredentialFields(d.scanType)] : [];
  // Credentials are write-only: MDE never says which SNMP type or Windows account a
  // definition uses, so the replacement fields start empty rather than show a guess as current.
  const UNKNOWN_CURRENT = new Set(['snmpType', 'windowsCredential']);
  const defs = [...DEFINITION_FIELDS, ...agents, ...credentials].map((f) => ({ ...f, default: UNKNOWN_CURRENT.has(f.name) ? current[f.name] : (current[f.name] ?? f.default) }));
  const prefilled = render(defs, {}).filter((f) => BASELINE_NAMES.has(f.name) && f.kind !== 'secret' && f.value !== undefined);
  const baseline = cleanBaseline(input.baseline) ?? Object.fromEntries(prefilled.map((f) => [f.name, f.value as string]));
  return {
    kind: 'update',
    title: `Update scan: ${d.scanName ?? d.id}`,
    definitionId: d.id,
    fields: render(defs, input),
    submitLabel: 'Save',
    baseline,
    ...(input.error ? { error: input.error } : {}),
  };
}


// ---------------------------------------------------------------------------------------
// Reading submitted values

const TRUE_WORDS = new Set(['true', 'on', 'yes', '1', 'checked']);
const FALSE_WORDS = new Set(['false', 'off', 'no', '0', '']);

/** A toggle's value: missing is off; undefined when unreadable. */
function readToggle(raw: unknown): boolean | undefined {
  if (raw === undefined || raw === null) return false;
  if (typeof raw === 'boolean') return raw;
  if (typeof raw === 'string') {
    const word = raw.trim().toLowerCase();
    return TRUE_WORDS.has(word) ? true : FALSE_WORDS.has(word) ? false : undefined;
  }
  if (Array.isArray(raw)) return raw.some((v) => !(typeof v === 'string' && FALSE_WORDS.has(v.trim().toLowerCase())) && v !== false);
  return undefined;
}

function matchChoice<T extends string>(text: string, values: readonly T[]): T | undefined {
  const lower = text.toLowerCase();
  return values.find((v) => v.toLowerCase() === lower);
}

/** Reads fields out of a submission, reporting problems by field name. */
class Reader {
  failed = false;
  constructor(
    private readonly raw: Record<string, unknown>,
    private readonly ctx: z.RefinementCtx,
  ) {}

  fail(field: string, message: string): undefined {
    this.failed = true;
    this.ctx.addIssue({ code: 'custom', path: [field], message });
    return undefined;
  }

  /** The raw string, or undefined when missing; untrimmed. */
  private string(name: string): string | undefined {
    let v = own(this.raw, name);
    if (Array.isArray(v)) {
      if (v.length > 1) return this.fail(name, 'give one value only');
      v = v[0];
    }
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) return String(v);
    if (typeof v !== 'string') return this.fail(name, 'this value could not be read');
    if (v.length > MAX_VALUE_LENGTH) return this.fail(name, `too long: at most ${MAX_VALUE_LENGTH} characters`);
    return v;
  }

  /** Trimmed text; empty is missing. */
  text(name: string): string | undefined {
    const v = this.string(name)?.trim();
    return v === '' ? undefined : v;
  }

  /** A secret as given (not trimmed); blank is missing. */
  secret(name: string): string | undefined {
    const v = this.string(name);
    return v === undefined || v.trim() === '' ? undefined : v;
  }

  /** A choice, matched case-insensitively; `dflt` when missing, or an error when it is a message. */
  choice<T extends string>(name: string, values: readonly T[], dflt?: T | { missing: string }): T | undefined {
    const v = this.text(name);
    if (v === undefined) return typeof dflt === 'object' ? this.fail(name, dflt.missing) : dflt;
    return matchChoice(v, values) ?? this.fail(name, `choose one of: ${values.join(', ')}`);
  }

  toggle(name: string): boolean {
    const on = readToggle(own(this.raw, name));
    return on ?? (this.fail(name, 'must be on or off (true or false)') ?? false);
  }

  required(name: string, message: string): string | undefined {
    return this.text(name) ?? this.fail(name, message);
  }

  /** Checks a value with a zod schema; the first problem is the field's error. */
  check<S extends z.ZodType>(name: string, schema: S, value: unknown): z.output<S> | undefined {
    const parsed = schema.safeParse(value);
    return parsed.success ? parsed.data : this.fail(name, parsed.error.issues[0]?.message ?? 'invalid value');
  }

  interval(name: string): number | undefined {
    const v = this.text(name);
    if (v === undefined) return undefined;
    return this.check(name, intervalSchema, /^[+-]?\d+(\.\d+)?$/.test(v) ? Number(v) : Number.NaN);
  }

  targets(name: string, value: string, type: TargetType): string | undefined {
    const problems = targetProblems(value, type).map((p) => clip(p, 160));
    if (problems.length === 0) return normaliseTargets(value);
    const more = problems.length > 3 ? `; and ${problems.length - 3} more` : '';
    return this.fail(name, problems.slice(0, 3).join('; ') + more);
  }
}

const clip = (text: string, max: number) => {
  const flat = text.replace(/[\p{Cc}\p{Cf}\u2028\u2029]+/gu, ' ');
  return flat.length <= max ? flat : flat.slice(0, max - 1) + '…';
};

// ---------------------------------------------------------------------------------------
// Paths of MDE schemas → form fields

const CREDENTIAL_NAMES = new Set(CREDENTIAL_FIELDS.map((f) => f.name));

/**
 * The form field an issue path belongs to: paths of the create/update request bodies
 * (`scanAuthenticationParams.privPassword` → `privPassword`, `scannerAgent.machineId` →
 * `agent`) and of the create/update operations (`intervalHours` → `intervalInHours`).
 */
export function formFieldForPath(path: readonly PropertyKey[], scanType?: ScanType): string | undefined {
  const [head, next] = path.map(String);
  switch (head) {
    case 'scanType':
      return 'scanType';
    case 'scanName':
    case 'name':
      return 'scanName';
    case 'target':
    case 'targets':
      return 'target';
    case 'targetType':
      return 'targetType';
    case 'intervalInHours':
    case 'intervalHours':
      return 'intervalInHours';
    case 'isActive':
    case 'active':
      return 'active';
    case 'scannerAgent':
    case 'agent':
      return 'agent';
    case 'scanAuthenticationParams':
    case 'auth': {
      const credential = scanType === 'Windows' ? 'windowsCredential' : scanType === 'Network' ? 'snmpCredential' : undefined;
      if (next === undefined) return credential;
      if (next === 'type') return scanType === 'Windows' ? 'windowsAuthType' : scanType === 'Network' ? 'snmpType' : undefined;
      if (next === 'isGmsaUser') return 'windowsCredential';
      if (next === '@odata.type') return 'scanType';
      return CREDENTIAL_NAMES.has(next) ? next : credential;
    }
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------
// Submission schemas

function buildAuth(r: Reader, scanType: ScanType): Record<string, unknown> | undefined {
  // Both Key Vault fields are checked here: with neither, the MDE schema would take the
  // credential for an inline one and ask for its fields instead.
  const keyVault = (odata: string, type: string) => {
    const keyVaultUrl = r.required('keyVaultUrl', 'the Key Vault URL is required for a Key Vault credential');
    const keyVaultSecretName = r.required('keyVaultSecretName', 'the Key Vault secret name is required for a Key Vault credential');
    return keyVaultUrl === undefined || keyVaultSecretName === undefined ? undefined : { '@odata.type': odata, type, keyVaultUrl, keyVaultSecretName };
  };
  if (scanType === 'Windows') {
    const type = r.choice('windowsAuthType', WINDOWS_AUTH_TYPES, 'Kerberos');
    const credential = r.choice('windowsCredential', WINDOWS_CREDENTIALS, 'gmsa');
    if (type === undefined || credential === undefined) return undefined;
    return credential === 'keyVault'
      ? keyVault(WINDOWS_AUTH_ODATA, type)
      : { '@odata.type': WINDOWS_AUTH_ODATA, type, username: r.text('username'), domain: r.text('domain'), isGmsaUser: true };
  }
  const type = r.choice('snmpType', SNMP_AUTH_TYPES, 'NoAuthNoPriv');
  const credential = r.choice('snmpCredential', SNMP_CREDENTIALS, 'inline');
  if (type === undefined || credential === undefined) return undefined;
  if (credential === 'keyVault') return keyVault(SNMP_AUTH_ODATA, type);
  const read: Record<string, () => unknown> = {
    communityString: () => r.secret('communityString'),
    username: () => r.text('username'),
    authProtocol: () => r.choice('authProtocol', AUTH_PROTOCOLS, 'SHA1'),
    authPassword: () => r.secret('authPassword'),
    privProtocol: () => r.choice('privProtocol', PRIV_PROTOCOLS, 'AES'),
    privPassword: () => r.secret('privPassword'),
  };
  return { '@odata.type': SNMP_AUTH_ODATA, type, ...Object.fromEntries(SNMP_FIELDS[type].map((f) => [f, read[f]?.()])) };
}

const withoutUndefined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/** Final check against the operation schema; its issues are mapped back to fields. */
function finish<K extends 'scans.create' | 'scans.update'>(r: Reader, candidate: Record<string, unknown>, kind: K, scanType?: ScanType) {
  const parsed = (kind === 'scans.create' ? createOperationSchema : updateOperationSchema).safeParse(candidate);
  if (parsed.success) return parsed.data as K extends 'scans.create' ? CreateOperation : UpdateOperation;
  for (const issue of parsed.error?.issues ?? []) {
    r.fail(formFieldForPath(issue.path, scanType) ?? '', issue.message);
  }
  return z.NEVER;
}

const submission = z.record(z.string(), z.unknown(), { error: 'the form submission could not be read' });

/** The create form's submission → a `scans.create` operation. */
export const createSubmissionSchema = submission.transform((raw, ctx): CreateOperation => {
  const r = new Reader(raw, ctx);
  const scanType = r.choice('scanType', SCAN_TYPES, { missing: 'choose the scan type: Windows or Network' });
  const nameText = r.text('scanName');
  const name = nameText === undefined ? r.fail('scanName', 'a scan name is required') : r.check('scanName', scanNameSchema, nameText);
  const targetType = r.choice('targetType', TARGET_TYPES, 'Ip');
  const targetText = r.required('target', 'at least one target is required');
  const targets = targetText !== undefined && targetType !== undefined ? r.targets('target', targetText, targetType) : undefined;
  const intervalHours = r.text('intervalInHours') === undefined ? r.fail('intervalInHours', 'the interval (hours between scans) is required') : r.interval('intervalInHours');
  const agentText = r.required('agent', 'choose a scanner agent');
  const agent = agentText === undefined ? undefined : machineIdSchema.safeParse(agentText).data;
  if (agentText !== undefined && agent === undefined) r.fail('agent', 'the scanner agent must be a machine id (40 hexadecimal characters)');
  const active = r.toggle('active');

  let auth: Record<string, unknown> | undefined;
  if (scanType !== undefined) {
    const built = buildAuth(r, scanType);
    if (built !== undefined) {
      const parsed = authParamsSchema.safeParse(withoutUndefined(built));
      if (parsed.success) auth = parsed.data;
      else for (const issue of parsed.error.issues) r.fail(formFieldForPath(['scanAuthenticationParams', ...issue.path], scanType) ?? '', issue.message);
    }
  }
  if (r.failed) return z.NEVER;
  return finish(r, { kind: 'scans.create', scanType, name, targets, targetType, intervalHours, agent, active, auth }, 'scans.create', scanType);
});

/** What a submitted update is compared with, field by field. */
interface Reference {
  scanName?: string | null;
  target?: string | null;
  targetType?: string | null;
  intervalInHours?: number | null;
  active?: boolean | null;
  agent?: string | null;
}

/**
 * The values a submission is compared with: the form's baseline (what it showed), normalised
 * like submitted values; a field the baseline lacks or cannot be read is compared with
 * `current`.
 */
function referenceFor(current: ScanDefinition | undefined, baseline: Record<string, string> | undefined): Reference {
  const ref: Reference = {
    scanName: current?.scanName,
    target: current?.target,
    targetType: current?.targetType,
    intervalInHours: current?.intervalInHours,
    active: current?.isActive,
    agent: current?.scannerAgent?.machineId?.toLowerCase(),
  };
  const shown = cleanBaseline(baseline);
  if (shown === undefined) return ref;
  const text = (name: string) => {
    const v = own(shown, name);
    return typeof v === 'string' ? v.trim() : undefined;
  };
  const scanName = text('scanName');
  if (scanName !== undefined) ref.scanName = scanName;
  const target = text('target');
  if (target !== undefined) ref.target = target;
  const targetType = text('targetType');
  const type = targetType === undefined ? undefined : matchChoice(targetType, TARGET_TYPES);
  if (type !== undefined) ref.targetType = type;
  const interval = text('intervalInHours');
  if (interval !== undefined && /^\d+$/.test(interval)) ref.intervalInHours = Number(interval);
  const active = own(shown, 'active') === undefined ? undefined : readToggle(own(shown, 'active'));
  if (active !== undefined) ref.active = active;
  const agent = text('agent');
  if (agent !== undefined) ref.agent = agent.toLowerCase();
  return ref;
}

/**
 * The update form's submission → a `scans.update` operation. Only what the user changed is
 * sent: with `baseline` (the values the form showed), what differs from it, so a change
 * someone else made while the form was open is not undone; without one, what differs from
 * `current`. A changed target or target type sends both, checked together against the
 * (new or current) target type. Empty fields keep their current value.
 */
export function updateSubmissionSchema(definitionId: string, current?: ScanDefinition, baseline?: Record<string, string>) {
  const ref = referenceFor(current, baseline);
  return submission.transform((raw, ctx): UpdateOperation => {
    const r = new Reader(raw, ctx);
    const id = definitionId.trim();
    if (id === '') r.fail('', 'the scan definition to update is not known');
    const nameText = r.text('scanName');
    const name = nameText === undefined ? undefined : r.check('scanName', scanNameSchema, nameText);
    const typeGiven = r.choice('targetType', TARGET_TYPES);
    const targetType = typeGiven ?? current?.targetType ?? 'Ip';
    const targetText = r.text('target');
    const intervalHours = r.interval('intervalInHours');
    const active = r.toggle('active');

    const op: Record<string, unknown> = { kind: 'scans.update', id };
    if (name !== undefined && name !== ref.scanName) op.name = name;
    const typeChanged = typeGiven !== undefined && typeGiven !== ref.targetType;
    const targetsChanged = targetText !== undefined && normaliseTargets(targetText) !== normaliseTargets(ref.target ?? '');
    if (typeChanged || targetsChanged) {
      const text = targetText ?? current?.target ?? undefined;
      if (text === undefined) r.fail('target', 'give the targets, to check them against the target type');
      else {
        const targets = r.targets('target', text, targetType);
        if (targets !== undefined) Object.assign(op, { targets, targetType });
      }
    }
    if (intervalHours !== undefined && intervalHours !== ref.intervalInHours) op.intervalHours = intervalHours;
    if (active !== ref.active) op.active = active;
    const agentText = r.text('agent');
    if (agentText !== undefined && agentText.toLowerCase() !== ref.agent) {
      const agent = machineIdSchema.safeParse(agentText).data;
      if (agent === undefined) r.fail('agent', 'the scanner agent must be a machine id (40 hexadecimal characters)');
      else op.agent = agent;
    }
    if (r.choice('credentials', ['keep', 'replace'] as const, 'keep') === 'replace') {
      if (!current?.scanType) r.fail('credentials', 'the scan type of this definition is not known, so its credentials cannot be replaced');
      else {
        const built = buildAuth(r, current.scanType);
        if (built !== undefined) {
          const parsed = authParamsSchema.safeParse(withoutUndefined(built));
          if (parsed.success) op.auth = parsed.data;
          else for (const issue of parsed.error.issues) r.fail(formFieldForPath(['scanAuthenticationParams', ...issue.path], current.scanType) ?? '', issue.message);
        }
      }
    }
    if (r.failed) return z.NEVER;
    if (Object.keys(op).length === 2) return r.fail('', 'nothing to change: edit at least one field') ?? z.NEVER;
    return finish(r, op, 'scans.update');
  });
}

// ---------------------------------------------------------------------------------------
// Results

/** Every secret value in a submission, in the forms it could be quoted. */
/**
 * The secret values a form carried, as they could be quoted back (as typed, trimmed, and
 * JSON-escaped): longest first, at least 4 characters (shorter ones would blank out words).
 */
export function submittedSecrets(values: Record<string, unknown>): string[] {
  const found = new Set<string>();
  for (const name of SECRET_FIELDS) {
    const v = own(values, name);
    for (const s of Array.isArray(v) ? v : [v]) {
      if (typeof s !== 'string') continue;
      for (const form of [s, s.trim(), JSON.stringify(s).slice(1, -1)]) if (form.length >= 4) found.add(form);
    }
  }
  return [...found].sort((a, b) => b.length - a.length);
}

/** Removes every secret value from a text, whoever wrote it (MDE, a proxy, a library). */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  return secrets.reduce((t, s) => t.split(s).join('[secret]'), text);
}

function result<T>(parsed: z.ZodSafeParseResult<T>, values: Record<string, unknown>): SubmissionResult<T> {
  if (parsed.success) return { ok: true, operation: parsed.data };
  const secrets = submittedSecrets(values);
  const errors: Record<string, string> = {};
  const general: string[] = [];
  for (const issue of parsed.error.issues) {
    const field = String(issue.path[0] ?? '');
    const message = clip(redactSecrets(issue.message, secrets), 600);
    if (field in LABELS) errors[field] ??= message;
    else general.push(message);
  }
  const parts = [...general, ...Object.entries(errors).map(([f, m]) => `${LABELS[f]}: ${m}`)];
  const count = Object.keys(errors).length;
  const lead = count === 0 ? 'The form was not accepted' : count === 1 ? 'One field needs a fix' : `${count} fields need a fix`;
  return { ok: false, errors, message: `${lead}: ${parts.join('; ')}` };
}

/** A create-form submission → the `scans.create` operation, or errors by field name. */
export function parseCreateSubmission(values: Record<string, unknown>): SubmissionResult<CreateOperation> {
  return result(createSubmissionSchema.safeParse(values), values);
}

/** An update-form submission → the `scans.update` operation, or errors by field name. */
export function parseUpdateSubmission(
  definitionId: string,
  values: Record<string, unknown>,
  current?: ScanDefinition,
  baseline?: Record<string, string>,
): SubmissionResult<UpdateOperation> {
  return result(updateSubmissionSchema(definitionId, current, baseline).safeParse(values), values);
}
