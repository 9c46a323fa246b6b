/** The MDE emulator: an HTTP server that behaves like Microsoft Defender for Endpoint's API and its token authority. */
export { startEmulator } from './server.js';
export { quotaUse } from './stats.js';
export type { Emulator, EmulatorOptions, EmulatorStats, FaultSpec } from './types.js';
export { DEFAULT_MODES, EmulatorState, SCAN_FAILED_HRESULT } from './state.js';
export type { EmulatorModes, AgentRecord, DefinitionRecord, HistoryRow, LatestScan, MachineActionRecord, MachineRecord } from './state.js';
export { SEED } from './seed.js';
export { CREATED_BY } from './routes/definitions.js';
export { TOKEN_LIFETIME_SECONDS } from './tokens.js';
export { GRAPH_SEED, GraphStub, type GraphGroup, type GraphUser } from './graph.js';
