/** Emulator fixtures shared by the adapters' end-to-end tests and the benchmark. */
import { createHash } from 'node:crypto';
import { SEED, type Emulator } from '../../src/emulator/index.js';
import type { EmulatorState } from '../../src/emulator/state.js';

/** Twelve more definitions named `Paging probe N`, enough for two pages of `scans list`. */
export function addPagingProbes(emulator: Emulator): void {
  const template = emulator.state.findDefinition(SEED.definitions.windowsHr)!;
  for (let i = 0; i < 12; i += 1) {
    emulator.state.putDefinition({ ...template, id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, scanName: `Paging probe ${i}` });
  }
}

/** `count` more definitions named `Bulk N` (ids `10000000-…-N`), each with three history rows. Returns their ids. */
export function addBulkDefinitions(state: EmulatorState, count: number): string[] {
  const template = state.findDefinition(SEED.definitions.windowsHr)!;
  const now = Date.now();
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const id = `10000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    ids.push(id);
    state.putDefinition({ ...template, id, scanName: `Bulk ${i}`, credentials: structuredClone(template.credentials), latestScan: { ...template.latestScan } });
    for (const hoursAgo of [2, 26, 50]) {
      state.history.push({ ScanDefinitionIds: id, LastScanned: new Date(now - hoursAgo * 3_600_000 - i * 1000).toISOString(), ScanStatus: hoursAgo === 26 ? 'Fail' : 'Success', ScannerId: template.scannerAgentMachineId });
    }
  }
  return ids;
}

/** `count` more healthy Windows devices named `bulk-N.contoso.local`, each able to run an AV scan. Returns their machine ids. */
export function addBulkMachines(state: EmulatorState, count: number): string[] {
  const template = state.machines.get(SEED.machines.wsHr01)!;
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const id = createHash('sha1').update(`bulk-machine-${i}`).digest('hex');
    ids.push(id);
    state.machines.set(id, { ...template, id, computerDnsName: `bulk-${i}.contoso.local`, machineTags: [] });
  }
  return ids;
}
