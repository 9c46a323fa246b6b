/**
 * The command registry: every command the bot understands, in the order help lists them.
 * A new command is one module in this folder and one line here.
 */
import type { Command, Registry } from '../command.js';
import type { StoredOperation } from '../records.js';
import { agentsList } from './agents-list.js';
import { approvalsAck } from './approvals-ack.js';
import { approvalsHere } from './approvals-here.js';
import { approvalsList } from './approvals-list.js';
import { approve, reject } from './approvals-decide.js';
import { auditExport, auditList } from './audit.js';
import { avScan, avScanCancel } from './av-scan.js';
import { help } from './help.js';
import { policyCheck } from './policy-check.js';
import { policyShow } from './policy-show.js';
import { scansCreate, scansCreateNetwork, scansCreateWindows } from './scans-create.js';
import { scansDelete } from './scans-delete.js';
import { scansHistory } from './scans-history.js';
import { scansList } from './scans-list.js';
import { scansShow } from './scans-show.js';
import { scansDisable, scansEnable, scansUpdate } from './scans-update.js';
import { scansWatch, scansWatchHere, scansWatchOff } from './scans-watch.js';
import { whoami } from './whoami.js';
import { withdraw } from './withdraw.js';

export const COMMANDS: readonly Command[] = [
  help,
  whoami,
  scansList,
  scansShow,
  scansHistory,
  scansCreate,
  scansCreateWindows,
  scansCreateNetwork,
  scansUpdate,
  scansEnable,
  scansDisable,
  scansDelete,
  scansWatch,
  scansWatchHere,
  scansWatchOff,
  avScan,
  avScanCancel,
  agentsList,
  approvalsList,
  approvalsHere,
  approvalsAck,
  approve,
  reject,
  withdraw,
  policyShow,
  policyCheck,
  auditList,
  auditExport,
];

/** Words accepted in place of a first command word. */
export const COMMAND_ALIASES: Readonly<Record<string, string>> = {
  scan: 'scans',
  agent: 'agents',
};

export function createRegistry(commands: readonly Command[] = COMMANDS, aliases = COMMAND_ALIASES): Registry {
  const byName = new Map(commands.map((c) => [c.name, c]));
  const byKind = new Map(commands.filter((c) => c.approval).map((c) => [c.approval!.kind, c as Command<StoredOperation>]));
  return {
    commands,
    aliases,
    byName: (name) => byName.get(name),
    forApprovalKind: (kind) => byKind.get(kind),
    groups: [...new Set(commands.filter((c) => c.name.includes(' ')).map((c) => c.name.split(' ')[0] as string))],
  };
}

export const REGISTRY: Registry = createRegistry();
