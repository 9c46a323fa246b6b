/** Machines, AV scans and MachineActions. */
import { randomUUID } from 'node:crypto';
import { isFinalActionStatus } from '../../mde/entities.js';
import { avScanBodySchema, cancelActionBodySchema } from '../../mde/requests.js';
import { ApiError, ok, type ApiResult, type Json } from '../http.js';
import { collection, pageOf, parseFilter, queryParam, readPaging } from '../odata.js';
import { jsonBody, odataContext, param, validBody, type RequestContext, type Route } from '../router.js';
import { WINDOWS_PLATFORMS, type MachineActionRecord, type MachineRecord } from '../state.js';

const MAX_TOP = 10_000;
const FILTERABLE: readonly string[] = [
  'id',
  'computerDnsName',
  'osPlatform',
  'healthStatus',
  'lastIpAddress',
  'riskScore',
  'exposureLevel',
  'rbacGroupName',
  'onboardingStatus',
  'deviceValue',
  'version',
];

export const machineRoutes: Route[] = [
  { method: 'GET', path: '/machines', handler: listMachines },
  { method: 'GET', path: '/machines/{id}', handler: getMachine },
  { method: 'POST', path: '/machines/{id}/runAntiVirusScan', handler: runAntivirusScan },
  { method: 'GET', path: '/machineactions/{id}', handler: getMachineAction },
  { method: 'POST', path: '/machineactions/{id}/cancel', handler: cancelMachineAction },
];

function listMachines(ctx: RequestContext): ApiResult {
  const matches = parseFilter(queryParam(ctx.query, '$filter'), FILTERABLE);
  const paging = readPaging(ctx.query, MAX_TOP);
  const all: Json[] = [...ctx.state.machines.values()].filter((m) => matches(m)).map((m) => ({ ...m }));
  return ok(collection(odataContext(ctx, 'Machines'), pageOf(all, paging, ctx.pageSize, ctx)));
}

function getMachine(ctx: RequestContext): ApiResult {
  const machine = requireMachine(ctx);
  return ok({ '@odata.context': odataContext(ctx, 'Machines/$entity'), ...machine });
}

function runAntivirusScan(ctx: RequestContext): ApiResult {
  const body = validBody(avScanBodySchema, jsonBody(ctx));
  const machine = requireMachine(ctx);
  if (!WINDOWS_PLATFORMS.includes(machine.osPlatform)) {
    throw new ApiError(400, 'InvalidInput', `Antivirus scan is available only on devices running Windows 10 version 1709 or later, or Windows 11; ${machine.computerDnsName} runs ${machine.osPlatform}.`);
  }
  if (ctx.state.activeScanOn(machine.id, ctx.now) !== undefined) {
    throw new ApiError(400, 'ActiveRequestAlreadyExists', 'Action is already in progress');
  }
  const created = new Date(ctx.now).toISOString();
  const action: MachineActionRecord = {
    id: randomUUID(),
    type: 'RunAntiVirusScan',
    title: `Run antivirus scan (${body.ScanType})`,
    scope: body.ScanType,
    requestor: ctx.client.clientId,
    requestorComment: body.Comment,
    status: 'Pending',
    machineId: machine.id,
    computerDnsName: machine.computerDnsName,
    creationDateTimeUtc: created,
    lastUpdateDateTimeUtc: created,
    errorHResult: 0,
    requestSource: 'PublicApi',
    cancellationRequestor: null,
    cancellationComment: null,
    cancellationDateTimeUtc: null,
  };
  ctx.state.addAction(action);
  return ok(actionJson(ctx, action), 201);
}

function getMachineAction(ctx: RequestContext): ApiResult {
  return ok(actionJson(ctx, requireAction(ctx)));
}

function cancelMachineAction(ctx: RequestContext): ApiResult {
  const body = validBody(cancelActionBodySchema, jsonBody(ctx));
  const action = requireAction(ctx);
  if (isFinalActionStatus(action.status)) {
    throw new ApiError(400, 'InvalidRequest', `Machine action ${action.id} is already ${action.status} and cannot be cancelled.`);
  }
  const now = new Date(ctx.now).toISOString();
  Object.assign(action, { status: 'Cancelled', cancellationRequestor: ctx.client.clientId, cancellationComment: body.Comment, cancellationDateTimeUtc: now, lastUpdateDateTimeUtc: now });
  return ok(actionJson(ctx, action));
}

function requireMachine(ctx: RequestContext): MachineRecord {
  const id = param(ctx, 'id');
  const machine = ctx.state.findMachine(id);
  if (machine === undefined) throw new ApiError(404, 'ResourceNotFound', `Machine ${id} was not found.`);
  return machine;
}

function requireAction(ctx: RequestContext): MachineActionRecord {
  const id = param(ctx, 'id');
  const action = ctx.state.getAction(id, ctx.now);
  if (action === undefined) throw new ApiError(404, 'ResourceNotFound', `Machine action ${id} was not found.`);
  return action;
}

function actionJson(ctx: RequestContext, action: MachineActionRecord): Json {
  return { '@odata.context': odataContext(ctx, 'MachineActions/$entity'), ...action };
}
