/**
 * Reading MDE's answers to an antivirus scan request: whether a returned MachineAction is
 * the scan just asked for or one that was already pending, how to say which scan is
 * running, why MDE refused one, and what to warn an approver about. Pure functions; the
 * client (client.ts) and the executor call them.
 */
import { isFinalActionStatus, type Machine, type MachineAction } from './entities.js';
import { MdeError } from './errors.js';
import type { AvScanBody } from './requests.js';

/** macOS and Linux devices run AV scans from MDE with this Defender client or later. */
export const MIN_MAC_LINUX_CLIENT = '101.98.84';
export const AV_SCAN_PLATFORMS = `Windows (10, 11 and Windows Server), and macOS and Linux with the Defender client ${MIN_MAC_LINUX_CLIENT} or later`;

const flat = (text: string | null | undefined) => (text ?? '').replace(/\s+/g, ' ').trim();

/**
 * Whether the MachineAction MDE returned for our request is one that was already there,
 * decided from MDE's answer alone (no clocks): an id this client was already given, or a
 * comment or scan type other than the ones just sent (the bot's comments name the approval,
 * so they are unique). Without a comment to compare, the action is taken as the new one.
 */
export function isEarlierAction(action: MachineAction, sent: AvScanBody, knownIds: ReadonlySet<string>): boolean {
  if (knownIds.has(action.id.toLowerCase())) return true;
  if (action.scope && action.scope.toLowerCase() !== sent.ScanType.toLowerCase()) return true;
  if (action.requestorComment != null) return flat(action.requestorComment) !== flat(sent.Comment);
  return false;
}

/** MDE's "already in progress" refusal: code ActiveRequestAlreadyExists, or a 400 that says so without a code. */
export function isActiveRequestRefusal(error: unknown): error is MdeError {
  if (!(error instanceof MdeError)) return false;
  if (error.code === 'ActiveRequestAlreadyExists') return true;
  return error.status === 400 && /already in progress|active request already exists/i.test(error.details.message ?? error.message);
}

function utc(iso: string | null | undefined): string | null {
  const t = Date.parse(iso ?? '');
  return Number.isNaN(t) ? null : `${new Date(t).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** The scan that is already running, as MDE describes it: its real type, status and who started it. */
export function runningScanText(action: MachineAction | null): string {
  if (action === null) return 'An antivirus scan is already in progress on this device (MDE did not say which one).';
  const type = action.scope ? `A ${action.scope} antivirus scan` : 'An antivirus scan (MDE did not say Quick or Full)';
  const since = utc(action.creationDateTimeUtc);
  const comment = flat(action.requestorComment);
  const by = `started by ${action.requestor ?? 'someone MDE did not name'}${since ? ` at ${since}` : ''}`;
  const said = comment ? `, comment "${comment.length > 200 ? `${comment.slice(0, 199)}…` : comment}"` : '';
  if (isFinalActionStatus(action.status)) {
    return `MDE answered with an earlier antivirus scan instead of starting one: ${type.charAt(0).toLowerCase()}${type.slice(1)}, ${action.status} (machine action ${action.id}, ${by}${said}).`;
  }
  return `${type} is already ${action.status === 'InProgress' ? 'running' : 'pending'} on this device (machine action ${action.id}, ${by}${said}).`;
}

/** "ws-01.contoso.com (Linux, Defender client 101.23.64)". */
export function deviceText(machine: Machine | null, machineId: string): string {
  if (machine === null) return machineId;
  const platform = [machine.osPlatform ?? 'platform unknown', machine.agentVersion ? `Defender client ${machine.agentVersion}` : ''].filter(Boolean).join(', ');
  return `${machine.computerDnsName ?? machine.id} (${platform})`;
}

/** MDE's 400 to an AV scan, as a message that names the device's platform and quotes MDE. */
export function avScanRefusal(error: MdeError, machine: Machine | null, machineId: string): MdeError {
  const said = error.details.message ?? error.message;
  const platformCause = error.code === 'OsPlatformNotSupported' || error.code === 'ClientVersionNotSupported' || /platform|not supported|client version|operating system/i.test(said);
  const hint = platformCause ? ` MDE runs antivirus scans on ${AV_SCAN_PLATFORMS}.` : '';
  const code = error.code ? ` (${error.code})` : '';
  return new MdeError('api', `MDE refused the antivirus scan on ${deviceText(machine, machineId)}: "${said}"${code}.${hint}`, error.details);
}

/**
 * What an approver should know before approving a scan MDE may never run: the device is
 * Inactive, or not onboarded. Null when there is nothing to say.
 */
export function avScanWarning(machine: Machine): string | null {
  const name = machine.computerDnsName ?? machine.id;
  const notes: string[] = [];
  if (machine.healthStatus?.toLowerCase() === 'inactive') {
    const seen = utc(machine.lastSeen);
    notes.push(`MDE reports ${name} as Inactive${seen ? ` (last seen ${seen})` : ''}: the scan waits until the device is online and may end in TimeOut`);
  }
  if (machine.onboardingStatus && machine.onboardingStatus.toLowerCase() !== 'onboarded') {
    notes.push(`MDE reports ${name} as ${machine.onboardingStatus}, not onboarded: Defender on it may never pick the scan up`);
  }
  return notes.length ? notes.join('; ') : null;
}
