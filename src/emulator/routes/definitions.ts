/** Authenticated-scan definitions, their history and the scanner agents. */
import { randomUUID } from 'node:crypto';
import {
  SNMP_AUTH_ODATA,
  WHOLE_DEFINITION_FIELDS,
  WINDOWS_AUTH_ODATA,
  batchDeleteBodySchema,
  createDefinitionBodySchema,
  scanHistoryBodySchema,
  updateDefinitionBodySchema,
  type AuthParams,
  type UpdateDefinitionBody,
} from '../../mde/requests.js';
import { ApiError, ok, type ApiResult, type Json } from '../http.js';
import { collection, listPage, readPaging } from '../odata.js';
import { jsonBody, odataContext, param, validBody, type RequestContext, type Route } from '../router.js';
import type { DefinitionRecord, EmulatorState } from '../state.js';

const DEFINITIONS = '/DeviceAuthenticatedScanDefinitions';
export const CREATED_BY = 'app@emulator';
const MAX_HISTORY_TOP = 4096;
const MAX_TOP = 10_000;

export const definitionRoutes: Route[] = [
  { method: 'GET', path: DEFINITIONS, handler: listDefinitions },
  { method: 'POST', path: DEFINITIONS, handler: createDefinition },
  { method: 'PATCH', path: `${DEFINITIONS}/{id}`, handler: updateDefinition },
  { method: 'POST', path: `${DEFINITIONS}/BatchDelete`, handler: batchDelete },
  { method: 'POST', path: `${DEFINITIONS}/GetScanHistoryByScanDefinitionId`, handler: scanHistory },
  { method: 'GET', path: '/DeviceAuthenticatedScanAgents', handler: listAgents },
];

/** As get-all-scan-definitions.md shows it: the agent's version fields in PascalCase. */
function listDefinitions(ctx: RequestContext): ApiResult {
  ctx.state.runDueScans();
  const all = [...ctx.state.definitions.values()].map((d) => definitionJson(d, ctx.state, 'pascal'));
  const page = listPage(all, ctx.state.modes.listPaging, readPaging(ctx.query, MAX_TOP), ctx.pageSize, ctx);
  return ok(collection(odataContext(ctx, 'DeviceAuthenticatedScanDefinitions'), page));
}

function createDefinition(ctx: RequestContext): ApiResult {
  const body = validBody(createDefinitionBodySchema, jsonBody(ctx));
  requireAgent(ctx.state, body.scannerAgent.machineId);
  if (body.scanAuthenticationParams === undefined) throw new ApiError(400, 'InvalidInput', 'scanAuthenticationParams: credentials are required when creating a scan');
  const definition: DefinitionRecord = {
    id: randomUUID(),
    scanType: body.scanType,
    scanName: body.scanName,
    isActive: body.isActive,
    target: body.target,
    targetType: body.targetType,
    intervalInHours: body.intervalInHours,
    orgId: ctx.state.orgId,
    createdBy: CREATED_BY,
    scannerAgentMachineId: body.scannerAgent.machineId,
    credentials: body.scanAuthenticationParams,
    latestScan: { status: null, failureReason: null, executionDateTime: null },
  };
  ctx.state.putDefinition(definition);
  ctx.state.scheduleFirstScan(definition);
  return ok(entity(ctx, definition));
}

function updateDefinition(ctx: RequestContext): ApiResult {
  const id = param(ctx, 'id');
  const definition = ctx.state.findDefinition(id);
  if (definition === undefined) throw new ApiError(404, 'NotFound', `Scan definition ${id} was not found.`);
  const raw = jsonBody(ctx);
  if (ctx.state.modes.updates === 'replace') requireWholeDefinition(raw);
  const body = validBody(updateDefinitionBodySchema, withStoredTargetFields(raw, definition));
  if (body.scannerAgent !== undefined) requireAgent(ctx.state, body.scannerAgent.machineId);
  if (body.scanAuthenticationParams !== undefined) requireCredentialKind(definition, body.scanAuthenticationParams);
  applyUpdate(ctx.state, definition, body);
  return ok(entity(ctx, definition));
}

/** A server that replaces the definition wants all the fields of the documented update body (credentials excepted). */
function requireWholeDefinition(body: unknown): void {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return;
  const missing = WHOLE_DEFINITION_FIELDS.filter((f) => !(f in body));
  if (missing.length > 0) throw new ApiError(400, 'MissingRequiredParameter', `The update must carry the whole definition; missing: ${missing.join(', ')}.`);
}

/**
 * The update schema checks a new target against its target type, so it wants both. A
 * real server knows the stored one; so does the emulator: it fills in the missing half.
 */
function withStoredTargetFields(body: unknown, definition: DefinitionRecord): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const merged: Record<string, unknown> = { ...body };
  if ('target' in merged && !('targetType' in merged)) merged.targetType = definition.targetType;
  if ('targetType' in merged && !('target' in merged)) merged.target = definition.target;
  return merged;
}

function applyUpdate(state: EmulatorState, definition: DefinitionRecord, body: UpdateDefinitionBody): void {
  if (body.scanName !== undefined) definition.scanName = body.scanName;
  if (body.isActive !== undefined && body.isActive !== definition.isActive) {
    definition.isActive = body.isActive;
    state.scheduleFirstScan(definition);
  }
  if (body.target !== undefined) definition.target = body.target;
  if (body.targetType !== undefined) definition.targetType = body.targetType;
  if (body.intervalInHours !== undefined) definition.intervalInHours = body.intervalInHours;
  if (body.scannerAgent !== undefined) definition.scannerAgentMachineId = body.scannerAgent.machineId;
  if (body.scanAuthenticationParams !== undefined) definition.credentials = body.scanAuthenticationParams;
}

function batchDelete(ctx: RequestContext): ApiResult {
  const { ScanDefinitionIds: ids } = validBody(batchDeleteBodySchema, jsonBody(ctx), 'MaximumBatchSizeExceeded');
  const unknown = ids.filter((id) => ctx.state.findDefinition(id) === undefined);
  if (unknown.length > 0) throw new ApiError(404, 'NotFound', `Scan definition(s) not found: ${unknown.join(', ')}. Nothing was deleted.`);
  ctx.state.deleteDefinitions(ids);
  return { status: 200 };
}

function scanHistory(ctx: RequestContext): ApiResult {
  const { ScanDefinitionIds: ids } = validBody(scanHistoryBodySchema, jsonBody(ctx), 'MaximumBatchSizeExceeded');
  const paging = readPaging(ctx.query, MAX_HISTORY_TOP);
  const rows = ctx.state.historyFor(ids).slice(paging.skip, paging.skip + (paging.top ?? MAX_HISTORY_TOP));
  return ok(collection(`${ctx.baseUrl}/api/DeviceAuthenticatedScanDefinitions/GetScanHistoryByScanDefinitionId`, { value: rows }));
}

/** As get-all-scan-agents.md shows it: `AssignedApplicationId`, `ScannerSoftwareVersion`, `LastCommandExecutionTimestamp` in PascalCase. */
function listAgents(ctx: RequestContext): ApiResult {
  const all: Json[] = [...ctx.state.agents.values()].map((agent) => ({
    id: ctx.state.agentId(agent.machineId),
    machineId: agent.machineId,
    lastSeen: agent.lastSeen,
    computerDnsName: agent.computerDnsName,
    AssignedApplicationId: agent.assignedApplicationId,
    ScannerSoftwareVersion: agent.scannerSoftwareVersion,
    LastCommandExecutionTimestamp: agent.lastCommandExecutionTimestamp,
    mdeClientVersion: agent.mdeClientVersion,
  }));
  const page = listPage(all, ctx.state.modes.listPaging, readPaging(ctx.query, MAX_TOP), ctx.pageSize, ctx);
  return ok(collection(odataContext(ctx, 'DeviceAuthenticatedScanAgents'), page));
}

function requireAgent(state: EmulatorState, machineId: string): void {
  if (!state.agents.has(machineId.toLowerCase())) {
    throw new ApiError(400, 'InvalidInput', `scannerAgent.machineId: ${machineId} is not a registered authenticated-scan agent of this tenant`);
  }
}

function requireCredentialKind(definition: DefinitionRecord, auth: AuthParams): void {
  const wanted = definition.scanType === 'Windows' ? WINDOWS_AUTH_ODATA : SNMP_AUTH_ODATA;
  if (auth['@odata.type'] !== wanted) {
    const kind = definition.scanType === 'Windows' ? 'Windows credentials (WindowsAuthParams)' : 'SNMP credentials (SnmpAuthParams)';
    throw new ApiError(400, 'InvalidInput', `scanAuthenticationParams: a ${definition.scanType} scan needs ${kind}`);
  }
}

function entity(ctx: RequestContext, definition: DefinitionRecord): Json {
  return { '@odata.context': odataContext(ctx, 'DeviceAuthenticatedScanDefinitions/$entity'), ...definitionJson(definition, ctx.state) };
}

/**
 * The answer shape; credentials are write-only and always come back as null. The docs
 * spell the agent's version fields in camelCase in create/update answers and in PascalCase
 * in the list.
 */
export function definitionJson(definition: DefinitionRecord, state: EmulatorState, agentCase: 'camel' | 'pascal' = 'camel'): { [key: string]: Json } {
  return {
    id: definition.id,
    scanType: definition.scanType,
    scanName: definition.scanName,
    isActive: definition.isActive,
    target: definition.target,
    orgId: definition.orgId,
    intervalInHours: definition.intervalInHours,
    createdBy: definition.createdBy,
    targetType: definition.targetType,
    scanAuthenticationParams: null,
    scannerAgent: scannerAgentJson(state, definition.scannerAgentMachineId, agentCase),
    latestScan: { ...definition.latestScan },
  };
}

function scannerAgentJson(state: EmulatorState, machineId: string, agentCase: 'camel' | 'pascal'): Json {
  const agent = state.agents.get(machineId);
  const key = (name: string) => (agentCase === 'pascal' ? name.charAt(0).toUpperCase() + name.slice(1) : name);
  return {
    id: state.agentId(machineId),
    machineId,
    machineName: agent?.computerDnsName ?? null,
    lastSeen: agent?.lastSeen ?? null,
    [key('assignedApplicationId')]: agent?.assignedApplicationId ?? null,
    [key('scannerSoftwareVersion')]: agent?.scannerSoftwareVersion ?? null,
    [key('lastCommandExecutionTimestamp')]: agent?.lastCommandExecutionTimestamp ?? null,
    mdeClientVersion: agent?.mdeClientVersion ?? null,
  };
}
