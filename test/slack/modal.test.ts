import { describe, expect, it } from 'vitest';
import { createFormSpec } from '../../src/core/forms.js';
import type { FormSpec } from '../../src/core/reply.js';
import { buildFormModal, decodeMeta, encodeMeta, FIELD_ACTION_ID, FORM_CALLBACK_ID, placeErrors, readFormValues, visibleFields } from '../../adapters/slack/modal.js';
import { stateFor } from '../helpers/slack-requests.js';

const AGENTS = [
  { id: 'ag1', machineId: 'a'.repeat(40), computerDnsName: 'scanner-01', lastSeen: null, clientVersion: null, onboardingStatus: null, status: null } as any,
  { id: 'ag2', machineId: 'b'.repeat(40), computerDnsName: 'scanner-02' } as any,
];

const meta = { kind: 'create' as const, channel: 'C0OPS', team: 'T1', scope: 'channel' as const, responseUrl: 'https://hooks.slack.com/commands/T1/1/abc' };

describe('form modal', () => {
  const form = createFormSpec({ agents: AGENTS });

  it('is a modal with block ids = field names and titles within 24 characters', () => {
    const view = buildFormModal(form, meta) as any;
    expect(view.type).toBe('modal');
    expect(view.callback_id).toBe(FORM_CALLBACK_ID);
    for (const t of [view.title.text, view.submit.text, view.close.text]) expect([...t].length).toBeLessThanOrEqual(24);
    const inputs = view.blocks.filter((b: any) => b.type === 'input');
    expect(inputs.map((b: any) => b.block_id)).toEqual(visibleFields(form).map((f) => f.name));
    expect(inputs.every((b: any) => b.element.action_id === FIELD_ACTION_ID)).toBe(true);
    expect(view.blocks.length).toBeLessThanOrEqual(100);
    expect(decodeMeta(view.private_metadata)).toEqual(meta);
  });

  it('offers the scanner agents as a pick list and the enums as choices', () => {
    const view = buildFormModal(form, meta) as any;
    const agent = view.blocks.find((b: any) => b.block_id === 'agent');
    expect(agent.element.type).toBe('static_select');
    expect(agent.element.options.map((o: any) => o.text.text)).toEqual(['scanner-01', 'scanner-02']);
    const scanType = view.blocks.find((b: any) => b.block_id === 'scanType');
    expect(scanType.element.initial_option.value).toBe('Windows');
    expect(scanType.dispatch_action).toBe(true);
    const active = view.blocks.find((b: any) => b.block_id === 'active');
    expect(active.element.type).toBe('checkboxes');
    expect(active.optional).toBe(true);
  });

  it('shows the credential fields of the chosen scan and auth type', () => {
    const windows = visibleFields(form).map((f) => f.name);
    expect(windows).toContain('windowsCredential');
    expect(windows).toContain('domain');
    expect(windows).not.toContain('snmpType');
    expect(windows).not.toContain('authPassword');
    const network = visibleFields(form, { scanType: 'Network' }).map((f) => f.name);
    expect(network).toContain('snmpType');
    expect(network).not.toContain('domain');
    expect(network).not.toContain('authPassword'); // NoAuthNoPriv by default
    const authPriv = visibleFields(form, { scanType: 'Network', snmpType: 'AuthPriv' }).map((f) => f.name);
    expect(authPriv).toEqual(expect.arrayContaining(['authProtocol', 'authPassword', 'privProtocol', 'privPassword']));
    // Transitive: snmpType hidden when the scan is Windows, so are its fields.
    expect(visibleFields(form, { scanType: 'Windows', snmpType: 'AuthPriv' }).map((f) => f.name)).not.toContain('authPassword');
  });

  it('never prefills a secret and says where it goes', () => {
    const withSecret: FormSpec = { ...form, fields: form.fields.map((f) => (f.kind === 'secret' ? { ...f, value: 'hunter2' } : f)) };
    const view = buildFormModal(withSecret, meta, { scanType: 'Network', snmpType: 'AuthPriv' }) as any;
    expect(JSON.stringify(view)).not.toContain('hunter2');
    const secret = view.blocks.find((b: any) => b.block_id === 'authPassword');
    expect(secret.element.type).toBe('plain_text_input');
    expect(secret.hint.text).toMatch(/never stores, logs or shows it/);
  });

  it('reads a submission into flat values', () => {
    const view = buildFormModal(form, meta) as any;
    const state = stateFor(view, { scanName: 'Servers', target: '10.0.0.5', intervalInHours: '12', agent: 'a'.repeat(40), active: false, domain: '' });
    const values = readFormValues(state as any);
    expect(values).toMatchObject({ scanType: 'Windows', scanName: 'Servers', target: '10.0.0.5', intervalInHours: '12', agent: 'a'.repeat(40), active: false, targetType: 'Ip' });
    expect(values).not.toHaveProperty('domain'); // empty text is missing
    expect(readFormValues({ x: { [FIELD_ACTION_ID]: { type: 'checkboxes', selected_options: [{ value: 'true' }] } } })).toEqual({ x: true });
    expect(readFormValues({ x: { [FIELD_ACTION_ID]: { type: 'multi_static_select', selected_options: [{ value: 'a' }, { value: 'b' }] } } })).toEqual({ x: ['a', 'b'] });
  });

  it('reads any submitted state without throwing: null entries, numbers, arrays and wrong shapes are left out', () => {
    const state: unknown = {
      gone: null,
      number: 5,
      list: [1, 2],
      nullAction: { [FIELD_ACTION_ID]: null },
      noType: { [FIELD_ACTION_ID]: { value: 7 } },
      badOptions: { [FIELD_ACTION_ID]: { type: 'checkboxes', selected_options: [null, 5, { value: 3 }, { value: 'true' }] } },
      badSelect: { [FIELD_ACTION_ID]: { type: 'static_select', selected_option: 'Windows' } },
      badMulti: { [FIELD_ACTION_ID]: { type: 'multi_static_select', selected_options: 'a' } },
      badUsers: { [FIELD_ACTION_ID]: { type: 'multi_users_select', selected_users: ['U1', null, 3] } },
      badDate: { [FIELD_ACTION_ID]: { type: 'datepicker', selected_date: 20300101 } },
      scanName: { [FIELD_ACTION_ID]: { type: 'plain_text_input', value: 'Servers' } },
    };
    expect(readFormValues(state)).toEqual({ badOptions: true, badMulti: [], badUsers: ['U1'], scanName: 'Servers' });
    for (const odd of [null, undefined, 5, 'x', [], [null], { a: [] }]) expect(readFormValues(odd)).toEqual({});
  });

  it('places field errors beside fields in the view and reports the rest', () => {
    expect(placeErrors({ scanName: 'required', authPassword: 'needed' }, new Set(['scanName']))).toEqual({ placed: { scanName: 'required' }, unplaced: ['authPassword: needed'] });
  });

  it('carries an update form baseline; drops it (with a warning) rather than exceed 3,000 characters; ignores a malformed one', () => {
    const baseline = { scanName: 'Core switches', active: 'true', intervalInHours: '4' };
    const update = { ...meta, kind: 'update' as const, definitionId: 'def-1' };
    expect(decodeMeta(encodeMeta({ ...update, baseline }))?.baseline).toEqual(baseline);
    const warnings: string[] = [];
    const log = { warn: (_obj: object, msg: string) => warnings.push(msg) } as any;
    const responseUrl = 'https://hooks.slack.com/' + 'a'.repeat(900);
    const text = encodeMeta({ ...update, responseUrl, baseline: { ...baseline, target: '10.0.0.1,'.repeat(220) } }, log);
    expect(text.length).toBeLessThanOrEqual(3000);
    expect(decodeMeta(text)).toMatchObject({ kind: 'update', definitionId: 'def-1', responseUrl });
    expect(decodeMeta(text)?.baseline).toBeUndefined();
    expect(warnings).toEqual([expect.stringMatching(/baseline/)]);
    const malformed = JSON.stringify({ k: 'update', d: 'def-1', b: { active: 5 } });
    expect(decodeMeta(malformed)).toMatchObject({ kind: 'update', definitionId: 'def-1' });
    expect(decodeMeta(malformed)?.baseline).toBeUndefined();
  });

  it('drops the response_url from the metadata rather than exceed 3,000 characters', () => {
    const text = encodeMeta({ ...meta, responseUrl: 'https://x/' + 'a'.repeat(3100) });
    expect(text.length).toBeLessThanOrEqual(3000);
    expect(decodeMeta(text)?.responseUrl).toBeUndefined();
    expect(decodeMeta('garbage')).toBeNull();
  });
});
