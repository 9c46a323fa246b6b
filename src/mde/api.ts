/**
 * What the rest of the bot may ask of MDE. `createMdeClient` (client.ts) implements it
 * over HTTP; request bodies are validated with the schemas of requests.ts before they
 * leave, and answers are parsed with the tolerant schemas of entities.ts.
 */
import type { Machine, MachineAction, ScanAgent, ScanDefinition, ScanHistoryEntry } from './entities.js';
import type { AvScanBody, CreateDefinitionBody, UpdateDefinitionBody } from './requests.js';

export type AvScanOutcome =
  | { kind: 'started'; action: MachineAction }
  /**
   * A scan was already pending or running: MDE returned that MachineAction instead of a new
   * one, or refused with 400 "Action is already in progress" (then `action` is the pending
   * scan from MDE's action list, or null). `message` names its real type and who started it.
   */
  | { kind: 'already_running'; action: MachineAction | null; message: string };

export interface MdeApi {
  /**
   * Every definition (all pages). Concurrent calls share one request. The answer is cached
   * and kept current by the bot's own writes; how old a cached list may be depends on the
   * use: `list` (a listing, default) 10 s; `lookup` (finding definitions by id or name) 60 s;
   * `recheck` (a lookup missed) only if read within the last second.
   */
  listDefinitions(options?: { freshness?: 'list' | 'lookup' | 'recheck' }): Promise<ScanDefinition[]>;
  createDefinition(body: z_input<CreateDefinitionBody>): Promise<ScanDefinition>;
  /** `body` holds the changes; the whole definition is sent (current values from MDE, changes over them). */
  updateDefinition(id: string, body: z_input<UpdateDefinitionBody>): Promise<ScanDefinition>;
  deleteDefinitions(ids: string[]): Promise<void>;
  /** History rows of these definitions, newest first. Reads close together share one call (batched); identical ones share the answer. */
  getScanHistory(ids: string[], page?: { top?: number; skip?: number }): Promise<ScanHistoryEntry[]>;
  /** Any platform: MDE decides; its 400 becomes an error naming the device's platform. */
  runAntivirusScan(machineId: string, body: AvScanBody, options?: { background?: boolean }): Promise<AvScanOutcome>;
  /** A machine by its id or computer name; `null` when MDE does not know it. */
  getMachine(idOrName: string): Promise<Machine | null>;
  /** Machines whose computerDnsName equals the name (quotes escaped for OData). */
  findMachinesByDnsName(name: string): Promise<Machine[]>;
  /** Machines carrying the tag (`GET /api/machines/findbytag`), exactly or (`startsWith`) as a prefix. */
  findMachinesByTag(tag: string, startsWith: boolean): Promise<Machine[]>;
  /** Machines of a device group (`$filter=rbacGroupName eq '…'`). */
  listMachinesInGroup(group: string): Promise<Machine[]>;
  getMachineAction(id: string): Promise<MachineAction>;
  /** The machine actions with these ids that MDE knows (`$filter=id in (…)`, 50 ids a call); unknown ids are simply absent. */
  listMachineActions(ids: string[]): Promise<MachineAction[]>;
  cancelMachineAction(id: string, comment: string): Promise<MachineAction>;
  listScanAgents(): Promise<ScanAgent[]>;
}

/** Bodies are accepted as plain objects and validated inside the client. */
type z_input<T> = { [K in keyof T]: T[K] };
