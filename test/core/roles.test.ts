import { describe, expect, it } from 'vitest';
import type { Command } from '../../src/core/command.js';
import { COMMANDS } from '../../src/core/commands/index.js';
import { parseCommand } from '../../src/core/parser.js';
import { ROLES, RoleConfigError, authorize, type Role, createRolePolicy, hasRole, normalizeActorId, parseRoleList, rolePolicyFromEnv, rolesOf } from '../../src/core/roles.js';

const ID = '289224fb-1686-472c-9751-5555960854ca';

/** The command a chat line resolves to, as dispatch would authorize it. */
function commandOf(text: string): Command {
  const result = parseCommand(text);
  if (!result.ok) throw new Error(`bad fixture: ${text}`);
  return result.command;
}

const VIEWER = 'slack:UVIEW0001';
const OPERATOR = 'teams:0f8fad5b-d9cb-469f-a165-70867728950e';
const APPROVER = 'slack:UAPPR0001';
const UNKNOWN = 'slack:UNKNOWN01';

const policy = createRolePolicy({ viewer: [VIEWER], operator: [OPERATOR], approver: [APPROVER] });

const rank = (role: Role | null) => (role === null ? -1 : ROLES.indexOf(role));

/** [label, policy, actor, the actor's highest role or null] */
const ACTORS: Array<[string, ReturnType<typeof createRolePolicy>, string, Role | null]> = [
  ['unknown', policy, UNKNOWN, null],
  ['viewer', policy, VIEWER, 'viewer'],
  ['operator', policy, OPERATOR, 'operator'],
  ['approver', policy, APPROVER, 'approver'],
  ['* viewers', createRolePolicy({ viewer: ['*'] }), UNKNOWN, 'viewer'],
  ['* operators', createRolePolicy({ operator: ['*'] }), 'teams:11111111-2222-3333-4444-555555555555', 'operator'],
  ['* approvers', createRolePolicy({ approver: ['*'] }), UNKNOWN, 'approver'],
  ['viewer by *, operator by name', createRolePolicy({ viewer: ['*'], operator: [OPERATOR] }), OPERATOR, 'operator'],
];

const MATRIX = ACTORS.flatMap(([label, p, actor, highest]) => COMMANDS.map((command) => [label, command.name, command, p, actor, highest] as const));

describe('role matrix', () => {
  it.each(MATRIX)('%s × %s', (_label, _name, command, p, actor, highest) => {
    const needed = command.role;
    const result = authorize(p, actor, command);
    const allowed = needed === null || rank(highest) >= rank(needed);
    expect(result.ok).toBe(allowed);
    if (!result.ok) {
      if (highest === null) {
        expect(result.message).toContain(`Your id is ${actor}`);
        expect(result.message).toContain('ask an admin');
      } else {
        expect(result.message).toContain(`needs the ${needed} role`);
        expect(result.message).toContain(`you are ${highest === 'operator' ? 'an' : 'a'} ${highest}`);
      }
      const variable = { viewer: 'BOT_VIEWERS', operator: 'BOT_OPERATORS', approver: 'BOT_APPROVERS' }[needed as Role];
      expect(result.message).toContain(variable);
    }
  });

  it('names the command the user typed', () => {
    const scanDelete = authorize(policy, VIEWER, commandOf(`scans delete ${ID} --reason r`));
    expect(!scanDelete.ok && scanDelete.message).toContain('`scans delete` needs the operator role');
    // enable and disable build the same operation; the command, not the operation's shape, names it
    const refused = authorize(policy, VIEWER, commandOf(`scans disable ${ID}`));
    expect(refused.ok === false && refused.message).toContain('`scans disable`');
    const enable = authorize(policy, VIEWER, commandOf(`scans enable ${ID}`));
    expect(enable.ok === false && enable.message).toContain('`scans enable`');
    const refusedReject = authorize(policy, OPERATOR, commandOf('reject a1'));
    expect(refusedReject.ok === false && refusedReject.message).toContain('`reject` needs the approver role');
  });
});

describe('rolesOf', () => {
  it('an approver holds every role; lists include the lower ones', () => {
    expect(rolesOf(policy, APPROVER)).toEqual(['viewer', 'operator', 'approver']);
    expect(rolesOf(policy, OPERATOR)).toEqual(['viewer', 'operator']);
    expect(rolesOf(policy, VIEWER)).toEqual(['viewer']);
    expect(rolesOf(policy, UNKNOWN)).toEqual([]);
    expect(hasRole(policy, APPROVER, 'operator')).toBe(true);
    expect(hasRole(policy, VIEWER, 'operator')).toBe(false);
  });
  it('matches ids the way the platforms write them', () => {
    const p = createRolePolicy({ operator: ['slack:u0123abc', 'TEAMS:0F8FAD5B-D9CB-469F-A165-70867728950E'] });
    expect(rolesOf(p, 'slack:U0123ABC')).toEqual(['viewer', 'operator']);
    expect(rolesOf(p, 'teams:0f8fad5b-d9cb-469f-a165-70867728950e')).toEqual(['viewer', 'operator']);
    expect(rolesOf(p, 'teams:U0123ABC')).toEqual([]);
    expect(normalizeActorId('slack:u1x')).toBe('slack:U1X');
    expect(normalizeActorId('bob')).toBeUndefined();
  });
  it('a malformed actor id gets only what * grants, and its refusal is safe to show', () => {
    expect(rolesOf(policy, 'mallory')).toEqual([]);
    expect(rolesOf(createRolePolicy({ viewer: ['*'] }), 'mallory')).toEqual(['viewer']);
    const refused = authorize(policy, `x\u0000${'y'.repeat(500)}`, commandOf('scans list'));
    expect(refused.ok).toBe(false);
    if (!refused.ok) {
      expect(refused.message).not.toMatch(/\p{Cc}/u);
      expect(refused.message.length).toBeLessThan(500);
    }
  });
});

describe('configuration', () => {
  it('reads the three variables; unset or empty means nobody', () => {
    const p = rolePolicyFromEnv({
      BOT_VIEWERS: '*',
      BOT_OPERATORS: ' slack:U0OPS1 , teams:0f8fad5b-d9cb-469f-a165-70867728950e,',
      BOT_APPROVERS: '',
    });
    expect(p.viewer.everyone).toBe(true);
    expect([...p.operator.ids]).toEqual(['slack:U0OPS1', 'teams:0f8fad5b-d9cb-469f-a165-70867728950e']);
    expect(p.approver.ids.size).toBe(0);
    expect(p.approver.everyone).toBe(false);
    const none = rolePolicyFromEnv({});
    expect(rolesOf(none, APPROVER)).toEqual([]);
    expect(authorize(none, APPROVER, commandOf('help')).ok).toBe(true);
    expect(authorize(none, APPROVER, commandOf('whoami')).ok).toBe(true);
  });

  it.each([
    ['BOT_VIEWERS', 'U0123ABC'],
    ['BOT_VIEWERS', 'slack:'],
    ['BOT_OPERATORS', 'bob@contoso.com'],
    ['BOT_OPERATORS', 'teams:not-a-guid'],
    ['BOT_APPROVERS', 'discord:12345'],
    ['BOT_APPROVERS', 'slack:U1 slack:U2'],
    ['BOT_APPROVERS', '**'],
  ])('%s=%s stops start-up naming the variable and the entry', (variable, entry) => {
    const env = { BOT_VIEWERS: 'slack:UOK1', [variable]: `slack:UOK2,${entry}` };
    let error: unknown;
    try {
      rolePolicyFromEnv(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RoleConfigError);
    const e = error as RoleConfigError;
    expect(e.variable).toBe(variable);
    expect(e.entry).toBe(entry);
    expect(e.message).toContain(variable);
    expect(e.message).toContain(`"${entry}"`);
    expect(e.message).toContain('slack:');
  });

  it('explicit (demo) lists are validated the same way', () => {
    expect(() => createRolePolicy({ approver: ['nobody'] })).toThrow(/BOT_APPROVERS: invalid entry "nobody"/);
    expect(parseRoleList(undefined, 'X').ids.size).toBe(0);
  });
});
