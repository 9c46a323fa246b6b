/**
 * Request bodies sent to MDE, built only through these schemas. They enforce the
 * documented rules and use exactly the casing of the seeds' examples (the server's body
 * parameter names are case-sensitive). The emulator validates with the same schemas.
 * Messages are written for the chat user: they say what is wrong and what is allowed.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { SCAN_TYPES, TARGET_TYPES, type ScanDefinition } from './entities.js';

export const WINDOWS_AUTH_ODATA = '#microsoft.windowsDefenderATP.api.WindowsAuthParams';
export const SNMP_AUTH_ODATA = '#microsoft.windowsDefenderATP.api.SnmpAuthParams';

export const MACHINE_ID = /^[0-9a-f]{40}$/i;
const HOSTNAME_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;

export function isValidHostname(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.replace(/\.$/, '').split('.');
  if (labels.every((l) => /^\d+$/.test(l))) return false; // looks like an IP, not a host name
  return labels.every((l) => HOSTNAME_LABEL.test(l));
}

export function isValidIp(address: string): boolean {
  return isIP(address) !== 0;
}

export const machineIdSchema = z
  .string({ error: 'a machine id is required' })
  .trim()
  .regex(MACHINE_ID, { error: (iss) => `"${String(iss.input)}" is not a machine id (40 hexadecimal characters)` })
  .transform((v) => v.toLowerCase());

export const scanTypeSchema = z.enum(SCAN_TYPES, { error: 'scan type must be Windows or Network' });
export const targetTypeSchema = z.enum(TARGET_TYPES, { error: 'target type must be Ip or Hostname' });

export const scanNameSchema = z
  .string({ error: 'a scan name is required' })
  .trim()
  .min(1, { error: 'the scan name must not be empty' })
  .max(256, { error: 'the scan name must be at most 256 characters' });

export const intervalSchema = z
  .number({ error: 'the interval must be a whole number of hours' })
  .int({ error: 'the interval must be a whole number of hours' })
  .positive({ error: 'the interval must be at least 1 hour' })
  .max(8760, { error: 'the interval must be at most 8760 hours (one year)' });

/** Splits a comma list of targets, trimming blanks; empty entries are errors, not skipped. */
export function splitTargets(target: string): string[] {
  return target.split(',').map((t) => t.trim());
}

/** Checks one comma-separated target string against its target type; returns the problems. */
export function targetProblems(target: string, targetType: 'Ip' | 'Hostname'): string[] {
  const entries = splitTargets(target);
  if (entries.length === 1 && entries[0] === '') return ['at least one target is required'];
  const problems: string[] = [];
  for (const entry of entries) {
    if (entry === '') problems.push('the target list has an empty entry (two commas in a row, or a trailing comma)');
    else if (targetType === 'Ip' && !isValidIp(entry)) problems.push(`"${entry}" is not a valid IPv4 or IPv6 address`);
    else if (targetType === 'Hostname' && !isValidHostname(entry)) problems.push(`"${entry}" is not a valid host name`);
  }
  return problems;
}

/** Normalises a target list: trimmed entries joined by commas, as MDE expects one string. */
export function normaliseTargets(target: string): string {
  return splitTargets(target).join(',');
}

const keyVault = {
  keyVaultUrl: z.url({ protocol: /^https$/, error: 'the Key Vault URL must be an https URL' }),
  keyVaultSecretName: z.string().trim().min(1, { error: 'the Key Vault secret name must not be empty' }),
};

const optionalText = (what: string) => z.string({ error: `the ${what} must be text` }).trim().min(1, { error: `the ${what} must not be empty` }).optional();

/** Windows scans authenticate with a gMSA account (no password) or a Key Vault reference. */
export const windowsAuthSchema = z
  .strictObject({
    '@odata.type': z.literal(WINDOWS_AUTH_ODATA),
    type: z.enum(['Kerberos', 'Negotiate'], { error: 'the Windows authentication type must be Kerberos or Negotiate' }),
    username: optionalText('gMSA user name'),
    domain: optionalText('domain'),
    isGmsaUser: z.literal(true, { error: 'Windows scans use a gMSA account (isGmsaUser must be true): passwords are not accepted' }).optional(),
    keyVaultUrl: keyVault.keyVaultUrl.optional(),
    keyVaultSecretName: keyVault.keyVaultSecretName.optional(),
  })
  .superRefine((p, ctx) => {
    if (!checkedKeyVault(p, ['username', 'domain', 'isGmsaUser'], ctx)) requireFields(p, ['username', 'domain', 'isGmsaUser'], 'a gMSA account', ctx);
  });

const authProtocol = z.enum(['MD5', 'SHA1'], { error: 'the SNMP auth protocol must be MD5 or SHA1' });
const privProtocol = z.enum(['DES', '3DES', 'AES'], { error: 'the SNMP privacy protocol must be DES, 3DES or AES' });

export const SNMP_AUTH_TYPES = ['CommunityString', 'NoAuthNoPriv', 'AuthNoPriv', 'AuthPriv'] as const;
export type SnmpAuthType = (typeof SNMP_AUTH_TYPES)[number];

/** The fields each SNMP type needs (Key Vault references replace all of them). */
export const SNMP_FIELDS: Record<SnmpAuthType, readonly SnmpField[]> = {
  CommunityString: ['communityString'],
  NoAuthNoPriv: ['username'],
  AuthNoPriv: ['username', 'authProtocol', 'authPassword'],
  AuthPriv: ['username', 'authProtocol', 'authPassword', 'privProtocol', 'privPassword'],
};
type SnmpField = 'communityString' | 'username' | 'authProtocol' | 'authPassword' | 'privProtocol' | 'privPassword';
const ALL_SNMP_FIELDS: readonly SnmpField[] = ['communityString', 'username', 'authProtocol', 'authPassword', 'privProtocol', 'privPassword'];

/** Network scans authenticate with SNMP; which fields are needed depends on the SNMP type. */
export const snmpAuthSchema = z
  .strictObject({
    '@odata.type': z.literal(SNMP_AUTH_ODATA),
    type: z.enum(SNMP_AUTH_TYPES, { error: 'the SNMP authentication type must be CommunityString, NoAuthNoPriv, AuthNoPriv or AuthPriv' }),
    communityString: z.string().min(1, { error: 'the community string must not be empty' }).optional(),
    username: optionalText('SNMP user name'),
    authProtocol: authProtocol.optional(),
    authPassword: z.string().min(1, { error: 'the SNMP auth password must not be empty' }).optional(),
    privProtocol: privProtocol.optional(),
    privPassword: z.string().min(1, { error: 'the SNMP privacy password must not be empty' }).optional(),
    keyVaultUrl: keyVault.keyVaultUrl.optional(),
    keyVaultSecretName: keyVault.keyVaultSecretName.optional(),
  })
  .superRefine((p, ctx) => {
    if (checkedKeyVault(p, ALL_SNMP_FIELDS, ctx)) return;
    const needed = SNMP_FIELDS[p.type];
    requireFields(p, needed, `SNMP type ${p.type}`, ctx);
    forbidFields(p, ALL_SNMP_FIELDS.filter((f) => !needed.includes(f)), `SNMP type ${p.type}`, ctx);
  });

const FIELD_LABELS: Record<string, string> = {
  username: 'user name',
  domain: 'domain',
  isGmsaUser: 'gMSA flag (isGmsaUser: true)',
  keyVaultUrl: 'Key Vault URL',
  keyVaultSecretName: 'Key Vault secret name',
  communityString: 'community string',
  authProtocol: 'auth protocol (MD5 or SHA1)',
  authPassword: 'auth password',
  privProtocol: 'privacy protocol (DES, 3DES or AES)',
  privPassword: 'privacy password',
};

/** A Key Vault reference needs both its fields and replaces the inline ones; true when it is one. */
function checkedKeyVault(p: Record<string, unknown>, inline: readonly string[], ctx: z.RefinementCtx): boolean {
  if (p.keyVaultUrl === undefined && p.keyVaultSecretName === undefined) return false;
  requireFields(p, ['keyVaultUrl', 'keyVaultSecretName'], 'a Key Vault reference', ctx);
  forbidFields(p, inline, 'a Key Vault reference', ctx);
  return true;
}

function requireFields(p: Record<string, unknown>, fields: readonly string[], what: string, ctx: z.RefinementCtx) {
  for (const f of fields) {
    if (p[f] === undefined) ctx.addIssue({ code: 'custom', path: [f], message: `${what} needs the ${FIELD_LABELS[f] ?? f}` });
  }
}

function forbidFields(p: Record<string, unknown>, fields: readonly string[], what: string, ctx: z.RefinementCtx) {
  for (const f of fields) {
    if (p[f] !== undefined) ctx.addIssue({ code: 'custom', path: [f], message: `${what} does not take a ${FIELD_LABELS[f] ?? f}` });
  }
}

export const authParamsSchema = z.discriminatedUnion('@odata.type', [windowsAuthSchema, snmpAuthSchema], {
  error: `credentials need an "@odata.type" of ${WINDOWS_AUTH_ODATA} or ${SNMP_AUTH_ODATA}`,
});
export type WindowsAuthParams = z.output<typeof windowsAuthSchema>;
export type SnmpAuthParams = z.output<typeof snmpAuthSchema>;
export type AuthParams = z.output<typeof authParamsSchema>;

function checkTargets(body: { target?: string | undefined; targetType?: 'Ip' | 'Hostname' | undefined }, ctx: z.RefinementCtx) {
  if (body.target === undefined || body.targetType === undefined) return;
  for (const message of targetProblems(body.target, body.targetType)) {
    ctx.addIssue({ code: 'custom', path: ['target'], message });
  }
}

function checkAuthKind(scanType: 'Windows' | 'Network', auth: unknown, ctx: z.RefinementCtx) {
  if (auth === undefined || auth === null || typeof auth !== 'object') return;
  const odata = (auth as Record<string, unknown>)['@odata.type'];
  if (scanType === 'Windows' && odata !== WINDOWS_AUTH_ODATA) {
    ctx.addIssue({ code: 'custom', path: ['scanAuthenticationParams'], message: 'a Windows scan needs Windows credentials (WindowsAuthParams), not SNMP ones' });
  }
  if (scanType === 'Network' && odata !== SNMP_AUTH_ODATA) {
    ctx.addIssue({ code: 'custom', path: ['scanAuthenticationParams'], message: 'a Network scan needs SNMP credentials (SnmpAuthParams), not Windows ones' });
  }
}

/** `POST /api/DeviceAuthenticatedScanDefinitions` */
export const createDefinitionBodySchema = z
  .strictObject({
    scanType: scanTypeSchema,
    scanName: scanNameSchema,
    isActive: z.boolean({ error: 'isActive must be true or false' }),
    target: z.string({ error: 'at least one target is required' }).transform(normaliseTargets),
    intervalInHours: intervalSchema,
    targetType: targetTypeSchema,
    scannerAgent: z.strictObject({ machineId: machineIdSchema }, { error: 'a scanner agent (its machine id) is required' }),
    scanAuthenticationParams: authParamsSchema.optional(),
  })
  .superRefine((body, ctx) => {
    checkTargets(body, ctx);
    if (body.scanAuthenticationParams === undefined) {
      ctx.addIssue({ code: 'custom', path: ['scanAuthenticationParams'], message: 'credentials (scanAuthenticationParams) are required when creating a scan' });
    } else {
      checkAuthKind(body.scanType, body.scanAuthenticationParams, ctx);
    }
  });
export type CreateDefinitionBody = z.output<typeof createDefinitionBodySchema>;

/**
 * `PATCH /api/DeviceAuthenticatedScanDefinitions/{id}`. A changed target is checked
 * against its target type, so the caller sends `targetType` with every `target`
 * (the current one when it does not change).
 */
export const updateDefinitionBodySchema = z
  .strictObject({
    scanName: scanNameSchema.optional(),
    isActive: z.boolean({ error: 'isActive must be true or false' }).optional(),
    target: z.string().transform(normaliseTargets).optional(),
    intervalInHours: intervalSchema.optional(),
    targetType: targetTypeSchema.optional(),
    scannerAgent: z.strictObject({ machineId: machineIdSchema }).optional(),
    scanAuthenticationParams: authParamsSchema.optional(),
  })
  .superRefine((body, ctx) => {
    if (Object.keys(body).length === 0) {
      ctx.addIssue({ code: 'custom', path: [], message: 'nothing to change: give at least one field to update' });
    }
    if (body.target !== undefined && body.targetType === undefined) {
      ctx.addIssue({ code: 'custom', path: ['targetType'], message: 'the target type is needed to check the new targets' });
    }
    checkTargets(body, ctx);
  });
export type UpdateDefinitionBody = z.output<typeof updateDefinitionBodySchema>;

/** The fields of the documented update body, in its order; credentials are sent only when replaced. */
export const WHOLE_DEFINITION_FIELDS = ['scanName', 'isActive', 'target', 'intervalInHours', 'targetType'] as const;

/**
 * What an update sends: the whole definition, as the documented PATCH example and
 * Microsoft365DSC send it, so a server that replaces rather than merges loses nothing.
 * `current` is the definition as MDE holds it now; the checked `changes` are laid over it.
 * Credentials (never returned by MDE) and the scanner agent go only when they change.
 */
export function wholeDefinitionBody(current: ScanDefinition, changes: UpdateDefinitionBody): UpdateDefinitionBody {
  const whole: UpdateDefinitionBody = {};
  if (current.scanName != null) whole.scanName = current.scanName;
  if (current.isActive != null) whole.isActive = current.isActive;
  if (current.target != null) whole.target = current.target;
  if (current.intervalInHours != null) whole.intervalInHours = current.intervalInHours;
  const targetType = current.targetType ?? targetTypeOf(current.target);
  if (targetType !== null) whole.targetType = targetType;
  return { ...whole, ...changes };
}

/** Ip when every target is an address, Hostname when every one is a host name; else null. */
export function targetTypeOf(target: string | null): 'Ip' | 'Hostname' | null {
  if (!target) return null;
  if (targetProblems(target, 'Ip').length === 0) return 'Ip';
  if (targetProblems(target, 'Hostname').length === 0) return 'Hostname';
  return null;
}

const definitionIdSchema = z.string().trim().min(1, { error: 'a scan definition id must not be empty' }).max(100, { error: 'a scan definition id is at most 100 characters' });
export const MAX_BATCH = 100;

const idListSchema = z
  .array(definitionIdSchema, { error: 'ScanDefinitionIds must be a list of ids' })
  .min(1, { error: 'give at least one scan definition id' })
  .max(MAX_BATCH, { error: `at most ${MAX_BATCH} scan definitions at once` })
  .refine((ids) => new Set(ids).size === ids.length, { error: 'the same scan definition id is given twice' });

/** `POST /api/DeviceAuthenticatedScanDefinitions/BatchDelete` */
export const batchDeleteBodySchema = z.strictObject({ ScanDefinitionIds: idListSchema });
export type BatchDeleteBody = z.output<typeof batchDeleteBodySchema>;

/** `POST /api/DeviceAuthenticatedScanDefinitions/GetScanHistoryByScanDefinitionId` */
export const scanHistoryBodySchema = z.strictObject({ ScanDefinitionIds: idListSchema });
export type ScanHistoryBody = z.output<typeof scanHistoryBodySchema>;

export const AV_SCAN_TYPES = ['Quick', 'Full'] as const;

/** `POST /api/machines/{id}/runAntiVirusScan` */
export const avScanBodySchema = z.strictObject({
  Comment: z.string({ error: 'a comment is required' }).trim().min(1, { error: 'a comment is required' }).max(1000, { error: 'the comment must be at most 1000 characters' }),
  ScanType: z.enum(AV_SCAN_TYPES, { error: 'the scan type must be Quick or Full' }),
});
export type AvScanBody = z.output<typeof avScanBodySchema>;

/** `POST /api/machineactions/{id}/cancel` */
export const cancelActionBodySchema = z.strictObject({
  Comment: z.string().trim().min(1, { error: 'a comment is required' }).max(1000),
});

/** A zod error as one line per problem, each prefixed with its field when it has one. */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    return path ? `${path}: ${issue.message}` : issue.message;
  });
}
