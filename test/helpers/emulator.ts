/** Emulator fixtures shared by the adapters' end-to-end tests. */
import { SEED, type Emulator } from '../../src/emulator/index.js';

/** Twelve more definitions named `Paging probe N`, enough for two pages of `scans list`. */
export function addPagingProbes(emulator: Emulator): void {
  const template = emulator.state.findDefinition(SEED.definitions.windowsHr)!;
  for (let i = 0; i < 12; i += 1) {
    emulator.state.putDefinition({ ...template, id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, scanName: `Paging probe ${i}` });
  }
}
