/**
 * Turning what a user typed into MDE entities: a definition by id or exact name, a
 * scanner agent or a machine by id or name. An unknown or ambiguous reference is a
 * UserError that lists the candidates.
 */
import type { MdeApi } from '../mde/api.js';
import type { Machine, ScanAgent, ScanDefinition } from '../mde/entities.js';
import { MACHINE_ID } from '../mde/requests.js';
import { UserError } from '../errors.js';
import { truncate } from './views.js';


const quote = (s: string) => `"${truncate(s, 80)}"`;

function candidates(list: string[]): string {
  return list.slice(0, 5).join(', ') + (list.length > 5 ? `, and ${list.length - 5} more` : '');
}

/** The definition a reference names (by id, else by exact name), or null when none does. Several with that name: a UserError. */
function matchDefinition(all: ScanDefinition[], ref: string): ScanDefinition | null {
  const wanted = ref.trim().toLowerCase();
  const byId = all.find((d) => d.id.toLowerCase() === wanted);
  if (byId) return byId;
  const byName = all.filter((d) => d.scanName?.toLowerCase() === wanted);
  if (byName.length === 1) return byName[0]!;
  if (byName.length > 1) {
    throw new UserError(`${byName.length} scan definitions are named ${quote(ref)}; use the id: ${candidates(byName.map((d) => d.id))}`);
  }
  return null;
}

export function findDefinition(all: ScanDefinition[], ref: string): ScanDefinition {
  const found = matchDefinition(all, ref);
  if (found) return found;
  const wanted = ref.trim().toLowerCase();
  const similar = all.filter((d) => d.scanName?.toLowerCase().includes(wanted) || d.id.toLowerCase().startsWith(wanted));
  const hint = similar.length ? ` Did you mean ${candidates(similar.map((d) => `${quote(d.scanName ?? d.id)} (${d.id})`))}?` : ' `scans list` shows them all.';
  throw new UserError(`No scan definition has the id or name ${quote(ref)}.${hint}`);
}

/**
 * Definitions by id or exact name, from the bot's cached list (kept current by its own
 * writes); MDE's list is read again only when a reference is not in it (a definition made
 * elsewhere since), so resolving costs no MDE call in the usual case.
 */
export async function resolveDefinitions(mde: MdeApi, refs: string[]): Promise<ScanDefinition[]> {
  let all = await mde.listDefinitions({ freshness: 'lookup' });
  if (refs.some((ref) => matchDefinition(all, ref) === null)) all = await mde.listDefinitions({ freshness: 'recheck' });
  const found = refs.map((ref) => findDefinition(all, ref));
  const unique = new Map(found.map((d) => [d.id, d]));
  if (unique.size !== found.length) throw new UserError('The same scan definition is named twice.');
  return found;
}

export async function resolveAgent(mde: MdeApi, ref: string): Promise<ScanAgent> {
  const agents = await mde.listScanAgents();
  const wanted = ref.trim().toLowerCase();
  const exact = agents.find((a) => a.machineId.toLowerCase() === wanted || a.computerDnsName?.toLowerCase() === wanted);
  if (exact) return exact;
  const short = agents.filter((a) => a.computerDnsName?.toLowerCase().split('.')[0] === wanted);
  if (short.length === 1) return short[0]!;
  const names = agents.map((a) => a.computerDnsName ?? a.machineId);
  if (short.length > 1) throw new UserError(`Several scanner agents are called ${quote(ref)}: ${candidates(names)}. Use the machine id.`);
  throw new UserError(`No scanner agent is called ${quote(ref)}. Scanner agents: ${names.length ? candidates(names) : 'none registered'}.`);
}

export async function resolveMachine(mde: MdeApi, ref: string): Promise<Machine> {
  const wanted = ref.trim();
  if (MACHINE_ID.test(wanted)) {
    const machine = await mde.getMachine(wanted.toLowerCase());
    if (machine) return machine;
    throw new UserError(`No device has the id ${wanted}.`);
  }
  const matches = await mde.findMachinesByDnsName(wanted.toLowerCase());
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    throw new UserError(`${matches.length} devices are named ${quote(wanted)}: ${candidates(matches.map((m) => m.id))}. Use the machine id.`);
  }
  const machine = await mde.getMachine(wanted);
  if (machine) return machine;
  throw new UserError(`No device is named ${quote(wanted)}. Give its full DNS name (e.g. ws-01.contoso.local) or its 40-character machine id.`);
}

/** How a multi-device AV scan names its devices. */
export type DeviceSelection = { by: 'names'; names: string[] } | { by: 'tag'; tag: string; startsWith: boolean } | { by: 'group'; group: string };

export function selectionText(s: DeviceSelection): string {
  if (s.by === 'tag') return s.startsWith ? `tags starting with ${quote(s.tag)}` : `tag ${quote(s.tag)}`;
  if (s.by === 'group') return `device group ${quote(s.group)}`;
  return `${s.names.length} names`;
}

/**
 * The devices a selection names, each once, sorted by id. Every name that matches no device
 * or several is listed in one refusal (nothing is asked for until all resolve); a tag or
 * group that matches nothing, or more devices than `max`, is refused.
 */
export async function resolveDevices(mde: MdeApi, selection: DeviceSelection, max: number): Promise<Machine[]> {
  let found: Machine[];
  if (selection.by === 'names') {
    const missing: string[] = [];
    const ambiguous: string[] = [];
    found = [];
    for (const name of selection.names) {
      const wanted = name.trim();
      if (MACHINE_ID.test(wanted)) {
        const machine = await mde.getMachine(wanted.toLowerCase());
        if (machine) found.push(machine);
        else missing.push(wanted);
        continue;
      }
      const matches = await mde.findMachinesByDnsName(wanted.toLowerCase());
      if (matches.length === 1) found.push(matches[0]!);
      else if (matches.length > 1) ambiguous.push(`${quote(wanted)} (${matches.length} devices: ${candidates(matches.map((m) => m.id))})`);
      else {
        const machine = await mde.getMachine(wanted);
        if (machine) found.push(machine);
        else missing.push(quote(wanted));
      }
    }
    const problems = [
      ...(missing.length ? [`no device is named ${candidates(missing)}`] : []),
      ...(ambiguous.length ? [`several devices share a name: ${ambiguous.join('; ')} (use the machine ids)`] : []),
    ];
    if (problems.length) throw new UserError(`Nothing was requested: ${problems.join('; and ')}.`);
  } else if (selection.by === 'tag') {
    found = await mde.findMachinesByTag(selection.tag, selection.startsWith);
    if (found.length === 0) throw new UserError(`No device carries ${selectionText(selection)} in MDE. Nothing was requested.`);
  } else {
    found = await mde.listMachinesInGroup(selection.group);
    if (found.length === 0) throw new UserError(`MDE has no device in the ${selectionText(selection)} (the name must match exactly). Nothing was requested.`);
  }
  const unique = [...new Map(found.map((m) => [m.id.toLowerCase(), m])).values()].sort((a, b) => (a.id.toLowerCase() < b.id.toLowerCase() ? -1 : 1));
  if (unique.length > max) {
    throw new UserError(`${unique.length} devices match ${selectionText(selection)}: one request may scan at most ${max} (AV_SCAN_MAX_DEVICES, or max_devices in the policy file's av-scan.bulk rule). Narrow the selection (a tag or device group of fewer devices). Nothing was requested.`);
  }
  return unique;
}
