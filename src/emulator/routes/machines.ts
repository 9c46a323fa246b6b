/** Machines, AV scans and MachineActions. */
import { randomUUID } from 'node:crypto';
import { isFinalActionStatus } from '../../mde/entities.js';
import { avScanBodySchema, cancelActionBodySchema } from '../../mde/requests.js';
import { ApiError, ok, type ApiResult, type Json } from '../http.js';
import { collection, pageOf, parseFilter, queryParam, readPaging } from '../odata.js';
import { jsonBody, odataContext, param, validBody, type RequestContext, type Route } from '../router.js';
import { avScanUnsupported, type MachineActionRecord, type MachineRecord } from '../state.js';

const MAX_TOP = 10_000;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ACTION_FILTERABLE: readonly string[] = ['id', 'status', 'machineId', 'type', 'requestor', 'creationDateTimeUtc'];
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
  { method: 'GET', path: '/machines/findbytag', handler: findMachinesByTag },
  { method: 'GET', path: '/machines/{id}', handler: getMachine },
  { method: 'POST', path: '/machines/{id}/runAntiVirusScan', handler: runAntivirusScan },
  { method: 'GET', path: '/machineactions', handler: listMachineActions },
  { method: 'GET', path: '/machineactions/{id}', handler: getMachineAction },
  { method: 'POST', path: '/machineactions/{id}/cancel', handler: cancelMachineAction },
];

/** Like MDE, the machine list answers 404 when no machine matches (get-machines.md: "404 if no recent machines"). */
function listMachines(ctx: RequestContext): ApiResult {
  const matches = parseFilter(queryParam(ctx.query, '$filter'), FILTERABLE);
  const paging = readPaging(ctx.query, MAX_TOP);
  const all: Json[] = [...ctx.state.machines.values()].filter((m) => matches(m)).map((m) => ({ ...m }));
  if (all.length === 0) throw new ApiError(404, 'ResourceNotFound', 'No machines found.');
  return ok(collection(odataContext(ctx, 'Machines'), pageOf(all, paging, ctx.pageSize, ctx)));
}

/**
 * `GET /api/machines/findbytag?tag=…&useStartsWithFilter=true|false` (find-machines-by-tag.md):
 * the machines carrying the tag (case-insensitive), or one starting with it. An empty
 * collection when none does; 400 without a tag.
 */
function findMachinesByTag(ctx: RequestContext): ApiResult {
  const tag = queryParam(ctx.query, 'tag');
  if (tag === undefined || tag.trim() === '') throw new ApiError(400, 'MissingRequiredParameter', 'The tag parameter is required.');
  const startsWith = (queryParam(ctx.query, 'useStartsWithFilter') ?? 'false').toLowerCase() === 'true';
  const wanted = tag.toLowerCase();
  const all: Json[] = [...ctx.state.machines.values()]
    .filter((m) => m.machineTags.some((t) => (startsWith ? t.toLowerCase().startsWith(wanted) : t.toLowerCase() === wanted)))
    .map((m) => ({ ...m }));
  return ok(collection(odataContext(ctx, 'Machines'), { value: all }));
}

function getMachine(ctx: RequestContext): ApiResult {
  const machine = requireMachine(ctx);
  return ok({ '@odata.context': odataContext(ctx, 'Machines/$entity'), ...machine });
}

function runAntivirusScan(ctx: RequestContext): ApiResult {
  const body = validBody(avScanBodySchema, jsonBody(ctx));
  const machine = requireMachine(ctx);
  const unsupported = avScanUnsupported(machine);
  if (unsupported !== null) throw new ApiError(400, unsupported.code, unsupported.message);
  const active = ctx.state.activeScanOn(machine.id, ctx.now);
  if (active !== undefined) {
    switch (ctx.state.modes.repeatAvScan) {
      case 'existing':
        return ok(actionJson(ctx, active), 201);
      case 'conflictWithoutCode':
        throw new ApiError(400, '', 'Action is already in progress');
      default:
        throw new ApiError(400, 'ActiveRequestAlreadyExists', 'Action is already in progress');
    }
  }
  const created = new Date(ctx.now).toISOString();
  const action: MachineActionRecord = {
    id: randomUUID(),
    type: 'RunAntiVirusScan',
    title: `Run antivirus scan (${body.ScanType})`,
    scope: body.ScanType,
    requestor: ctx.state.appDisplayName,
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

/** `GET /api/machineactions?$filter=…` (get-machineactions-collection.md), newest first. */
function listMachineActions(ctx: RequestContext): ApiResult {
  const matches = parseFilter(queryParam(ctx.query, '$filter'), ACTION_FILTERABLE);
  const paging = readPaging(ctx.query, MAX_TOP);
  const all: Json[] = [...ctx.state.actions.keys()]
    .map((id) => ctx.state.getAction(id, ctx.now)!)
    .filter((a) => matches(a))
    .sort((a, b) => Date.parse(b.creationDateTimeUtc) - Date.parse(a.creationDateTimeUtc))
    .map((a) => ({ ...a }));
  return ok(collection(odataContext(ctx, 'MachineActions'), pageOf(all, paging, ctx.pageSize, ctx)));
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
  Object.assign(action, { status: 'Cancelled', cancellationRequestor: ctx.state.appDisplayName, cancellationComment: body.Comment, cancellationDateTimeUtc: now, lastUpdateDateTimeUtc: now });
  return ok(actionJson(ctx, action));
}

function requireMachine(ctx: RequestContext): MachineRecord {
  const id = param(ctx, 'id');
  const machine = ctx.state.findMachine(id);
  if (machine === undefined) throw new ApiError(404, 'ResourceNotFound', `Machine ${id} was not found.`);
  return machine;
}

/** A machine action id is a GUID; anything else is MDE's OData key error (400), not a 404. */
function requireAction(ctx: RequestContext): MachineActionRecord {
  const id = param(ctx, 'id');
  if (!GUID.test(id)) throw new ApiError(400, 'BadRequest', `The key value (${id}) from request is not valid. The key value should be format of type 'Edm.Guid'.`);
  const action = ctx.state.getAction(id, ctx.now);
  if (action === undefined) throw new ApiError(404, 'ResourceNotFound', `Machine action ${id} was not found.`);
  return action;
}

function actionJson(ctx: RequestContext, action: MachineActionRecord): Json {
  return { '@odata.context': odataContext(ctx, 'MachineActions/$entity'), ...action };
}
