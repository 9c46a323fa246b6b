/**
 * Schemas of what MDE answers. MDE's documents mix PascalCase and camelCase keys, send
 * nulls for missing values and add fields over time, so every schema here reads keys
 * case-insensitively, tolerates null and passes unknown fields by.
 */
import { z } from 'zod';

/** Re-keys an object so that keys matching the shape case-insensitively get the shape's spelling. */
function canonicalKeys(shapeKeys: readonly string[], aliases: Record<string, string> = {}) {
  const wanted = new Map<string, string>();
  for (const key of shapeKeys) wanted.set(key.toLowerCase(), key);
  for (const [alias, key] of Object.entries(aliases)) wanted.set(alias.toLowerCase(), key);
  return (value: unknown): unknown => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      const canonical = wanted.get(key.toLowerCase());
      if (canonical === undefined) {
        out[key] = v;
      } else if (out[canonical] === undefined || out[canonical] === null) {
        out[canonical] = v;
      }
    }
    return out;
  };
}

/** An object schema whose keys are matched case-insensitively; unknown keys are kept. */
export function tolerantObject<S extends z.core.$ZodLooseShape>(shape: S, aliases?: Record<string, string>) {
  return z.preprocess(canonicalKeys(Object.keys(shape), aliases), z.looseObject(shape));
}

const optString = z.string().nullish().transform((v) => v ?? null);
const optNumber = z.number().nullish().transform((v) => v ?? null);

export const SCAN_TYPES = ['Windows', 'Network'] as const;
export type ScanType = (typeof SCAN_TYPES)[number];

export const TARGET_TYPES = ['Ip', 'Hostname'] as const;
export type TargetType = (typeof TARGET_TYPES)[number];

/** Reads "Ip", "IP Address", "ip", "Hostname" and friends; null when absent. */
const targetTypeRead = z
  .string()
  .nullish()
  .transform((v): TargetType | null => {
    if (v == null) return null;
    const flat = v.replace(/[\s_-]/g, '').toLowerCase();
    if (flat === 'ip' || flat === 'ipaddress') return 'Ip';
    if (flat === 'hostname') return 'Hostname';
    return null;
  });

const scanTypeRead = z
  .string()
  .nullish()
  .transform((v): ScanType | null => {
    const flat = v?.toLowerCase();
    if (flat === 'windows') return 'Windows';
    if (flat === 'network') return 'Network';
    return null;
  });

export const ScannerAgentRefSchema = tolerantObject({
  id: optString,
  machineId: optString,
  machineName: optString,
  lastSeen: optString,
  assignedApplicationId: optString,
  scannerSoftwareVersion: optString,
  lastCommandExecutionTimestamp: optString,
  mdeClientVersion: optString,
});

export const LatestScanSchema = tolerantObject({
  status: optString,
  failureReason: optString,
  executionDateTime: optString,
});

/**
 * A scan definition as MDE returns it. Credentials are write-only and never shown, so
 * `scanAuthenticationParams` is dropped here: nothing downstream can leak it.
 */
export const ScanDefinitionSchema = tolerantObject({
  id: z.string(),
  scanType: scanTypeRead,
  scanName: optString,
  isActive: z.boolean().nullish().transform((v) => v ?? null),
  target: optString,
  orgId: optString,
  intervalInHours: optNumber,
  createdBy: optString,
  targetType: targetTypeRead,
  scannerAgent: ScannerAgentRefSchema.nullish().transform((v) => v ?? null),
  latestScan: LatestScanSchema.nullish().transform((v) => v ?? null),
  // Listed only so that any casing of the key is matched and then dropped below.
  scanAuthenticationParams: z.unknown().optional(),
}).transform(({ scanAuthenticationParams: _secret, ...rest }) => rest as ScanDefinitionFields);

type ScanDefinitionFields = {
  id: string;
  scanType: ScanType | null;
  scanName: string | null;
  isActive: boolean | null;
  target: string | null;
  orgId: string | null;
  intervalInHours: number | null;
  createdBy: string | null;
  targetType: TargetType | null;
  scannerAgent: z.output<typeof ScannerAgentRefSchema> | null;
  latestScan: z.output<typeof LatestScanSchema> | null;
};
export type ScanDefinition = ScanDefinitionFields;

/** One history row. MDE names the single id `ScanDefinitionIds`; it is normalised to one id. */
export const ScanHistoryEntrySchema = tolerantObject({
  ScanDefinitionIds: z.union([z.string(), z.array(z.string())]).nullish(),
  LastScanned: optString,
  ScanStatus: optString,
  ScannerId: optString,
  SessionId: optString,
}, { ScanDefinitionId: 'ScanDefinitionIds' }).transform((row) => ({
  scanDefinitionId: Array.isArray(row.ScanDefinitionIds) ? (row.ScanDefinitionIds[0] ?? null) : (row.ScanDefinitionIds ?? null),
  lastScanned: row.LastScanned,
  scanStatus: row.ScanStatus,
  scannerId: row.ScannerId,
  sessionId: row.SessionId,
}));
export type ScanHistoryEntry = z.output<typeof ScanHistoryEntrySchema>;

export const MachineSchema = tolerantObject({
  id: z.string(),
  computerDnsName: optString,
  osPlatform: optString,
  /** OS version as MDE names it (`1709`, `21H2`, `Ubuntu 22.04`). */
  version: optString,
  /** Defender client version: macOS and Linux run AV scans from 101.98.84 on. */
  agentVersion: optString,
  healthStatus: optString,
  /** `Onboarded`, or `CanBeOnboarded`, `Unsupported`, `InsufficientInfo` for discovered devices. */
  onboardingStatus: optString,
  lastSeen: optString,
  lastIpAddress: optString,
  riskScore: optString,
  machineTags: z.array(z.string()).nullish().transform((v) => v ?? []),
});
export type Machine = z.output<typeof MachineSchema>;

export const MACHINE_ACTION_FINAL = ['Succeeded', 'Failed', 'TimeOut', 'Cancelled'] as const;

export const MachineActionSchema = tolerantObject({
  id: z.string(),
  type: optString,
  scope: optString,
  requestor: optString,
  requestorComment: optString,
  status: z.string().nullish().transform((v) => v ?? 'Pending'),
  machineId: optString,
  computerDnsName: optString,
  creationDateTimeUtc: optString,
  lastUpdateDateTimeUtc: optString,
  errorHResult: optNumber,
}, { lastUpdateTimeUtc: 'lastUpdateDateTimeUtc' });
export type MachineAction = z.output<typeof MachineActionSchema>;

export function isFinalActionStatus(status: string): boolean {
  return (MACHINE_ACTION_FINAL as readonly string[]).includes(status);
}

/** The docs spell `AssignedApplicationId`, `ScannerSoftwareVersion` and `LastCommandExecutionTimestamp` in PascalCase here. */
export const ScanAgentSchema = tolerantObject({
  id: optString,
  machineId: z.string(),
  computerDnsName: optString,
  lastSeen: optString,
  assignedApplicationId: optString,
  scannerSoftwareVersion: optString,
  lastCommandExecutionTimestamp: optString,
  mdeClientVersion: optString,
}, { machineName: 'computerDnsName' });
export type ScanAgent = z.output<typeof ScanAgentSchema>;

/** `{"@odata.context", "value": [...], "@odata.nextLink"?}` */
export function collectionOf<T extends z.ZodType>(item: T) {
  return tolerantObject({
    value: z.array(item).nullish().transform((v) => v ?? []),
    '@odata.nextLink': z.string().nullish(),
  });
}

/** `{"error": {"code", "message", "target"}}` */
export const MdeErrorBodySchema = tolerantObject({
  error: tolerantObject({
    code: z.string().nullish(),
    message: z.string().nullish(),
    target: z.string().nullish(),
  }),
});
