/**
 * The policy file's rules and break-glass: parsed whole, resolved with inheritance and
 * defaults by `ruleFor`, and every kind of mistake refused with its line.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { durationSchema, fixedPolicy, formatDuration, mayApproveRule, mayBreakGlass, policyOperationOf, requestProblem, ruleFor } from '../src/core/approval-policy.js';
import { REGISTRY } from '../src/core/commands/index.js';
import { policyCheckReply } from '../src/core/commands/policy-check.js';
import { createRolePolicy } from '../src/core/roles.js';
import { ConfigError } from '../src/errors.js';
import { loadPolicyFile, parsePolicy } from '../src/policy-file.js';

const FILE = `people:
  - name: Adam Approver
    slack: U0APP
    teams: 22222222-2222-4222-8222-222222222222
  - name: Bea Boss
    slack: U0BEA
  - name: Carl Chief
    teams: 33333333-3333-4333-8333-333333333333
  - name: Olga Operator
    slack: U0OLG
groups:
  soc-leads: [Adam Approver, Bea Boss, Carl Chief]
  analysts: [Olga Operator, "slack:U0OPS"]
roles:
  viewer: ["*"]
  operator: [analysts]
  approver: [soc-leads]
rules:
  scans.delete: { approvers: [soc-leads], quorum: 2, ttl: 60m, remind: 15m, escalate: { after: 30m, to: [soc-leads] } }
  av-scan:
    approvers: [Adam Approver, Bea Boss]
    quorum: 1
    ttl: 30m
    cards: { slack: C0SOC, teams: none }
    remind: 10m
    remind_times: 2
  av-scan.full: { quorum: 2 }
  av-scan.bulk: { quorum: 2, max_devices: 500 }
  scans.create: { requesters: [Olga Operator] }
break_glass:
  people: [Bea Boss]
  operations: [av-scan]
`;

const DEFAULTS = { ttlMinutes: 45 };

describe('durations', () => {
  it.each([
    ['30s', 30_000],
    ['15m', 900_000],
    ['2h', 7_200_000],
    ['7d', 604_800_000],
  ])('%s', (text, ms) => {
    expect(durationSchema.parse(text)).toBe(ms);
    expect(formatDuration(ms)).toBe(text);
  });
  it.each(['0m', '15', 'm', '1w', '1.5h', '-1m', '15 m'])('refuses %s', (text) => {
    expect(durationSchema.safeParse(text).success).toBe(false);
  });
});

describe('rules', () => {
  const policy = parsePolicy(FILE, 'policy.yaml', new Date('2026-12-02T10:00:00Z'));

  it('resolves a rule with every field', () => {
    const rule = ruleFor(policy, 'scans.delete', DEFAULTS);
    expect(rule).toMatchObject({ operation: 'scans.delete', quorum: 2, ttlMs: 3_600_000, reasonRequired: true, remindMs: 900_000, remindTimes: 3, from: ['scans.delete'] });
    expect(rule.approvers?.entries).toEqual(['soc-leads']);
    expect(rule.escalate?.afterMs).toBe(1_800_000);
    expect(rule.requesters).toBeNull();
    expect(policy.loadedAt).toBe('2026-12-02T10:00:00.000Z');
  });

  it('av-scan.full and av-scan.bulk inherit what they do not set from av-scan', () => {
    const full = ruleFor(policy, 'av-scan.full', DEFAULTS);
    expect(full).toMatchObject({ quorum: 2, ttlMs: 1_800_000, remindMs: 600_000, remindTimes: 2, cards: { slack: 'C0SOC', teams: 'none' }, from: ['av-scan.full', 'av-scan'] });
    expect(full.approvers?.entries).toEqual(['Adam Approver', 'Bea Boss']);
    expect(ruleFor(policy, 'av-scan.bulk', DEFAULTS)).toMatchObject({ quorum: 2, maxDevices: 500 });
    expect(ruleFor(policy, 'av-scan', DEFAULTS).quorum).toBe(1);
  });

  it('without a rule (and with the BOT_* shorthand): approver role, quorum 1, APPROVAL_TTL_MINUTES, the command role', () => {
    const shorthand = fixedPolicy(createRolePolicy({ approver: ['slack:UAPP'] }), DEFAULTS);
    const rule = ruleFor(shorthand.current(), 'av-scan.full', shorthand.defaults);
    expect(rule).toMatchObject({ quorum: 1, ttlMs: 45 * 60_000, approvers: null, requesters: null, reasonRequired: true, remindTimes: 3, from: [] });
    expect(rule.remindMs).toBeUndefined();
    expect(mayApproveRule(shorthand.current(), rule, 'slack:UAPP')).toBe(true);
    expect(mayApproveRule(shorthand.current(), rule, 'slack:UOTHER')).toBe(false);
  });

  it('approvers narrow the approver role; requesters replace the command role; break-glass by person and operation', () => {
    const scan = ruleFor(policy, 'av-scan', DEFAULTS);
    expect(mayApproveRule(policy, scan, 'teams:22222222-2222-4222-8222-222222222222')).toBe(true); // Adam, from Teams
    expect(mayApproveRule(policy, scan, 'teams:33333333-3333-4333-8333-333333333333')).toBe(false); // Carl: an approver, not on the rule
    expect(requestProblem(policy, scan, 'slack:U0OPS', 'operator')).toBeNull();
    expect(requestProblem(policy, scan, 'slack:USTRANGER', 'operator')).toMatch(/needs the operator role/);
    const create = ruleFor(policy, 'scans.create', DEFAULTS);
    expect(requestProblem(policy, create, 'slack:U0OLG', 'operator')).toBeNull();
    expect(requestProblem(policy, create, 'slack:U0OPS', 'operator')).toMatch(/lets only Olga Operator request it/);
    expect(mayBreakGlass(policy, 'av-scan', 'slack:U0BEA')).toBe(true);
    expect(mayBreakGlass(policy, 'av-scan.full', 'slack:U0BEA')).toBe(true);
    expect(mayBreakGlass(policy, 'scans.delete', 'slack:U0BEA')).toBe(false);
    expect(mayBreakGlass(policy, 'av-scan', 'slack:U0APP')).toBe(false);
  });

  it('names the operation of a command', () => {
    expect(policyOperationOf({ kind: 'av-scan', machine: 'm', scanType: 'Quick' })).toBe('av-scan');
    expect(policyOperationOf({ kind: 'av-scan', machine: 'm', scanType: 'Full' })).toBe('av-scan.full');
    expect(policyOperationOf({ kind: 'av-scan', machines: ['a', 'b'], scanType: 'Quick' })).toBe('av-scan.bulk');
    expect(policyOperationOf({ kind: 'scans.delete', ids: ['x'] })).toBe('scans.delete');
    expect(policyOperationOf({ kind: 'scans.update', id: 'x', active: false })).toBe('scans.disable');
    expect(policyOperationOf({ kind: 'scans.update', id: 'x', active: true })).toBe('scans.enable');
    expect(policyOperationOf({ kind: 'scans.update', id: 'x', name: 'n' })).toBe('scans.update');
    expect(policyOperationOf({ kind: 'scans.list' })).toBeUndefined();
  });
});

describe('mistakes in the file, each named with its line', () => {
  const base = 'people:\n  - name: Ann\n    slack: U0ANN\n  - name: Ben\n    slack: U0BEN\nroles:\n  approver: [Ann, Ben]\n';
  it.each([
    ['an unknown operation', `${base}rules:\n  scans.nuke: { quorum: 1 }\n`, /line 9 \(rules\): unknown operation scans\.nuke/],
    ['an unknown rule field', `${base}rules:\n  av-scan:\n    quorum: 1\n    colour: red\n`, /line 11 \(rules\.av-scan\): unknown field colour/],
    ['a bad duration', `${base}rules:\n  av-scan:\n    ttl: 5 minutes\n`, /line 10 \(rules\.av-scan\.ttl\): a duration: a number and a unit: 30s, 15m, 2h or 7d/],
    ['a quorum that is no whole number', `${base}rules:\n  av-scan:\n    quorum: 1.5\n`, /line 10 \(rules\.av-scan\.quorum\): quorum: a whole number/],
    ['a quorum of 0', `${base}rules:\n  av-scan:\n    quorum: 0\n`, /line 10 .*quorum: at least 1/],
    ['a quorum nobody can reach', `${base}rules:\n  av-scan:\n    quorum: 3\n`, /line 10: quorum 3 for av-scan, but only 2 people can approve it/],
    ['an inherited quorum nobody can reach', `${base}rules:\n  av-scan:\n    approvers: [Ann]\n  av-scan.full: { quorum: 2 }\n`, /line 11: quorum 2 for av-scan\.full, but only 1 person can approve it \(its approvers\)/],
    ['an unknown approver', `${base}rules:\n  av-scan:\n    approvers: [Zed]\n`, /line 10: "Zed" is neither a person, a group/],
    ['an empty approver list', `${base}rules:\n  av-scan:\n    approvers: []\n`, /line 10 .*approvers: name at least one/],
    ['approval fields on an operation without approval', `${base}rules:\n  scans.create:\n    quorum: 2\n`, /line 10: scans\.create runs at once without approval: its rule takes only requesters/],
    ['an optional reason on a delete', `${base}rules:\n  scans.delete:\n    reason: optional\n`, /line 10: scans\.delete always needs a reason/],
    ['a bad reason value', `${base}rules:\n  scans.delete:\n    reason: maybe\n`, /line 10 .*reason: required or optional/],
    ['a bad Slack channel for cards', `${base}rules:\n  av-scan:\n    cards: { slack: "#soc" }\n`, /line 10 .*a Slack channel id \(e\.g\. C0123ABCD\) or none/],
    ['a bad Teams target for cards', `${base}rules:\n  av-scan:\n    cards: { teams: everywhere }\n`, /line 10 .*here .* or none/],
    ['remind_times without remind', `${base}rules:\n  av-scan:\n    remind_times: 2\n`, /line 10: remind_times needs remind/],
    ['escalate without to', `${base}rules:\n  av-scan:\n    escalate: { after: 30m }\n`, /line 10 \(rules\.av-scan\.escalate\.to\)/],
    ['escalate that is no map', `${base}rules:\n  av-scan:\n    escalate: soon\n`, /line 10 .*escalate: \{ after: 30m, to: \[group\] \}/],
    ['max_devices on a delete', `${base}rules:\n  scans.delete:\n    max_devices: 5\n`, /line 10: max_devices applies to av-scan\.bulk/],
    ['break-glass for an operation without approval', `${base}break_glass:\n  people: [Ann]\n  operations: [scans.create]\n`, /line 10 .*break_glass covers operations that need approval/],
    ['break-glass for nobody', `${base}break_glass:\n  people: []\n  operations: [av-scan]\n`, /line 9 .*break_glass\.people: name at least one person/],
    ['an unknown break-glass field', `${base}break_glass:\n  people: [Ann]\n  operations: [av-scan]\n  until: 2h\n`, /line 11 .*unknown field until/],
    ['a group named like a person', `${base}groups:\n  Ann: [Ben]\n`, /line 9: "Ann" is both a person and a group/],
    ['an unknown section', `${base}rulez: {}\n`, /line 8 \(top level\): unknown section rulez/],
  ])('%s', (_kind, text, message) => {
    let error: unknown;
    try {
      parsePolicy(text, 'policy.yaml');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
  });
});

describe('examples/policy.yaml', () => {
  it('loads, with every section, so it cannot rot', () => {
    const policy = loadPolicyFile(join(import.meta.dirname, '..', 'examples', 'policy.yaml'));
    expect(policy.people?.get('teams:22222222-2222-4222-8222-222222222222')).toBe('Adam Approver');
    expect(ruleFor(policy, 'scans.delete', DEFAULTS)).toMatchObject({ quorum: 2, remindTimes: 2, cards: { slack: 'C0SOCLEADS' } });
    expect(ruleFor(policy, 'av-scan.bulk', DEFAULTS)).toMatchObject({ quorum: 2, maxDevices: 500, ttlMs: 30 * 60_000 });
    expect(mayBreakGlass(policy, 'av-scan', 'slack:U0BEA')).toBe(true);
    expect([...(policy.operator.groups ?? [])]).toEqual(['slack-group:S0SOC', 'entra-group:3f9c0b1e-0000-4000-8000-000000000001']);
  });
});

describe('policy check', () => {
  const policy = parsePolicy(FILE, 'policy.yaml');
  const check = (user: string, words: string) => JSON.stringify(policyCheckReply(policy, DEFAULTS, REGISTRY, user, words.split(' ')).blocks);

  it('explains requesting, approving, quorum and break-glass, for an account or a person by name', () => {
    const bea = check('bea boss', 'av-scan pc-1 full');
    expect(bea).toContain('Bea Boss (slack:U0BEA)');
    expect(bea).toContain('av-scan.full (from av-scan.full ← av-scan in the policy file)');
    expect(bea).toContain('2 distinct people');
    expect(bea).toMatch(/May approve others' av-scan.full requests: yes \(the rule's approvers are Adam Approver, Bea Boss/);
    expect(bea).toContain('Break-glass: yes');
    const carl = check('teams:33333333-3333-4333-8333-333333333333', 'av-scan pc-1 quick');
    expect(carl).toMatch(/May approve others' av-scan requests: no/);
    expect(check('slack:U0OPS', 'scans create windows')).toMatch(/May run `scans create windows`: no: the policy file's rule for scans.create lets only Olga Operator request it/);
    expect(check('slack:U0OLG', 'scans enable x')).toContain('scans.enable runs at once, without approval');
    expect(check('slack:U0OLG', 'scans list')).toContain('May run `scans list`: yes (the command needs the viewer role)');
  });

  it('names what it cannot read', () => {
    expect(check('Zed', 'scans list')).toMatch(/neither an account .* nor a person in the policy file \(Adam Approver, Bea Boss, Carl Chief, Olga Operator\)/);
    expect(check('slack:U0OLG', 'frobnicate now')).toContain('is no command of this bot');
  });
});
