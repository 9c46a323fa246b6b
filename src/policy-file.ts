/**
 * The policy file (`POLICY_FILE`, YAML): who is who (`people`: one person, all of their
 * accounts), static `groups`, who holds which role (`roles`), the approval `rules` per
 * operation and who may `break_glass`. Read with the `yaml` package, validated with zod;
 * every error names the line and what is wrong. The shape is DESIGN.md's "Policy file".
 *
 * Directory groups (`slack-group:`, `entra-group:`) are refused rather than silently
 * ignored until the bot can look them up: a rule written down but not enforced would be
 * worse than none.
 */
import { readFileSync } from 'node:fs';
import { isMap, isScalar, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import {
  APPROVAL_OPERATIONS,
  DIRECT_OPERATIONS,
  durationSchema,
  POLICY_OPERATIONS,
  type ApprovalPolicy,
  type BreakGlass,
  type CardsRoute,
  type Members,
  type PolicyOperation,
  type RuleSpec,
} from './core/approval-policy.js';
import { createRolePolicy, roleEntrySchema, ROLES } from './core/roles.js';
import { ConfigError } from './errors.js';

const accountOf = (platform: 'slack' | 'teams') =>
  z
    .string()
    .trim()
    .min(1)
    .transform((v, ctx) => {
      const parsed = roleEntrySchema.safeParse(v.includes(':') ? v : `${platform}:${v}`);
      if (!parsed.success || parsed.data === '*') {
        ctx.addIssue({ code: 'custom', message: platform === 'slack' ? `"${v}" is not a Slack user id (e.g. U0123ABC)` : `"${v}" is not an Entra object id (a GUID)` });
        return z.NEVER;
      }
      return parsed.data;
    });

const personSchema = z.strictObject({
  name: z.string().trim().min(1, { error: 'a person needs a name' }).max(200),
  slack: accountOf('slack').optional(),
  teams: accountOf('teams').optional(),
  email: z.email({ error: 'not an e-mail address' }).optional(),
});

const member = z.string().trim().min(1, { error: 'an empty entry' });
const members = z.array(member, { error: 'a list of people, groups or accounts, e.g. [soc-leads, "slack:U0123ABC"]' });

/** `unrecognized_keys` → what the object takes instead. */
const takes = (what: string, fields: string) => (issue: { code?: string; keys?: string[] }) =>
  issue.code === 'unrecognized_keys' ? `unknown ${what} ${issue.keys!.join(', ')} (${fields})` : undefined;

const SLACK_CHANNEL = /^[CG][A-Z0-9]{2,}$/;
const cardsSchema = z.strictObject(
  {
    slack: z
      .string()
      .trim()
      .refine((v) => v === 'none' || SLACK_CHANNEL.test(v), { error: 'a Slack channel id (e.g. C0123ABCD) or none' })
      .optional(),
    teams: z.enum(['here', 'none'], { error: 'here (the conversation set with approvals here, and the approvers\' personal chats) or none' }).optional(),
  },
  { error: takes('field', 'cards takes slack: <channel id>|none and teams: here|none') },
);

const count = (what: string, max: number) => z.int({ error: `${what}: a whole number` }).min(1, { error: `${what}: at least 1` }).max(max, { error: `${what}: at most ${max}` });

const RULE_FIELDS = 'a rule takes approvers, requesters, quorum, ttl, reason, cards, remind, remind_times, escalate and max_devices';
const ruleSchema = z.strictObject(
  {
    approvers: members.min(1, { error: 'approvers: name at least one person or group' }).optional(),
    requesters: members.min(1, { error: 'requesters: name at least one person or group' }).optional(),
    quorum: count('quorum', 10).optional(),
    ttl: durationSchema.optional(),
    reason: z.enum(['required', 'optional'], { error: 'reason: required or optional' }).optional(),
    cards: cardsSchema.optional(),
    remind: durationSchema.optional(),
    remind_times: count('remind_times', 20).optional(),
    escalate: z
      .strictObject({ after: durationSchema, to: members.min(1, { error: 'escalate.to: name at least one person or group' }), cards: cardsSchema.optional() }, {
        error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown field ${issue.keys.join(', ')} (escalate takes after, to and cards)` : issue.code === 'invalid_type' ? 'escalate: { after: 30m, to: [group] }' : undefined),
      })
      .optional(),
    max_devices: count('max_devices', 10_000).optional(),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown field ${issue.keys.join(', ')} (${RULE_FIELDS})` : issue.code === 'invalid_type' ? `a rule is a map (${RULE_FIELDS})` : undefined) },
);
type RuleFile = z.output<typeof ruleSchema>;

const operationSchema = z.enum(POLICY_OPERATIONS, { error: `an operation: ${POLICY_OPERATIONS.join(', ')}` });

export const policyFileSchema = z.strictObject(
  {
    people: z.array(personSchema).default([]),
    groups: z.record(z.string().trim().min(1), members).default({}),
    roles: z.strictObject({ viewer: members.optional(), operator: members.optional(), approver: members.optional() }, { error: 'roles has viewer, operator and approver lists' }),
    rules: z
      .partialRecord(operationSchema, ruleSchema, {
        error: (issue) => {
          const unknown = issue as { code: string; keys?: string[] };
          return unknown.code === 'unrecognized_keys' ? `unknown operation ${unknown.keys!.join(', ')} (rules are for ${POLICY_OPERATIONS.join(', ')})` : undefined;
        },
      })
      .default({}),
    break_glass: z
      .strictObject(
        {
          people: members.min(1, { error: 'break_glass.people: name at least one person' }),
          operations: z.array(z.enum(APPROVAL_OPERATIONS, { error: `break_glass covers operations that need approval: ${APPROVAL_OPERATIONS.join(', ')}` })).min(1, { error: 'break_glass.operations: name at least one operation' }),
        },
        { error: takes('field', 'break_glass takes people and operations') },
      )
      .optional(),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown section ${issue.keys!.join(', ')} (the file takes people, groups, roles, rules and break_glass)` : undefined) },
);

type PolicyFile = z.output<typeof policyFileSchema>;

/** Where a YAML path is in the file, as `line N`: the line of its key in a map, else of its node. */
function lineOf(doc: ReturnType<typeof parseDocument>, counter: LineCounter, path: readonly PropertyKey[]): string {
  for (let n = path.length; n >= 0; n--) {
    const parent = n > 0 ? doc.getIn(path.slice(0, n - 1) as unknown[], true) : undefined;
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === String(path[n - 1]));
      const range = (pair?.key as { range?: [number, number, number] } | undefined)?.range;
      if (range) return `line ${counter.linePos(range[0]).line}`;
    }
    const node = doc.getIn(path.slice(0, n) as unknown[], true) as { range?: [number, number, number] } | undefined;
    if (node?.range) return `line ${counter.linePos(node.range[0]).line}`;
  }
  return 'the file';
}

/** The file's text → the approval policy with people linked; throws ConfigError naming the line. */
export function parsePolicy(text: string, source: string, loadedAt: Date = new Date()): ApprovalPolicy {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new ConfigError(`POLICY_FILE ${source}: line ${e.linePos?.[0]?.line ?? '?'}: ${e.message.split('\n')[0]}`, 'policy');
  }
  const parsed = policyFileSchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    const lines = parsed.error.issues.slice(0, 5).map((i) => {
      // An unknown key is found by its own line, not its parent's.
      const path = i.code === 'unrecognized_keys' && i.keys.length > 0 ? [...i.path, i.keys[0]!] : i.path;
      return `${lineOf(doc, counter, path)} (${i.path.join('.') || 'top level'}): ${i.message}`;
    });
    throw new ConfigError(`POLICY_FILE ${source}:\n  ${lines.join('\n  ')}`, 'policy');
  }
  return { ...policyFrom(parsed.data, source, (path) => lineOf(doc, counter, path)), loadedAt: loadedAt.toISOString() };
}

function policyFrom(file: PolicyFile, source: string, where: (path: PropertyKey[]) => string): ApprovalPolicy {
  const fail = (path: PropertyKey[], message: string): never => {
    throw new ConfigError(`POLICY_FILE ${source}: ${where(path)}: ${message}`, 'policy');
  };
  const people = new Map<string, string>();
  const names = new Set<string>();
  file.people.forEach((p, i) => {
    if (names.has(p.name)) fail(['people', i, 'name'], `${p.name} is listed twice`);
    names.add(p.name);
    for (const account of [p.slack, p.teams]) {
      if (!account) continue;
      const other = people.get(account);
      if (other) fail(['people', i], `${account} belongs to both ${other} and ${p.name}`);
      people.set(account, p.name);
    }
  });
  for (const name of Object.keys(file.groups)) {
    if (names.has(name)) fail(['groups', name], `"${name}" is both a person and a group; rename one`);
  }

  /** A role or group entry → `*`, an account, or `person:<name>`; groups expand to their members. */
  const expand = (entry: string, path: PropertyKey[], seen: readonly string[] = []): string[] => {
    if (entry === '*') return ['*'];
    if (/^(slack-group|entra-group):/i.test(entry)) {
      fail(path, `directory groups (${entry.split(':')[0]}:) are not supported yet; list the people or accounts`);
    }
    const account = roleEntrySchema.safeParse(entry);
    if (account.success) return [account.data];
    if (names.has(entry)) return [`person:${entry}`];
    const group = file.groups[entry];
    if (group) {
      if (seen.includes(entry)) fail(path, `the group ${entry} contains itself`);
      return group.flatMap((m, i) => expand(m, ['groups', entry, i], [...seen, entry]));
    }
    return fail(path, `"${entry}" is neither a person, a group, slack:<id>, teams:<object id> nor *`);
  };
  const membersOf = (entries: readonly string[], path: PropertyKey[]): Members => {
    const resolved = entries.flatMap((e, i) => expand(e, [...path, i]));
    return { everyone: resolved.includes('*'), ids: new Set(resolved.filter((r) => r !== '*')), entries: [...entries] };
  };

  const lists = Object.fromEntries(ROLES.map((role) => [role, (file.roles[role] ?? []).flatMap((e, i) => expand(e, ['roles', role, i]))]));
  const roles = createRolePolicy(lists);
  const groups = new Map(Object.entries(file.groups).map(([name, entries]) => [name, membersOf(entries, ['groups', name])]));

  /** Distinct people on a list (linked accounts count once); `Infinity` for everyone. */
  const headcount = (list: Members): number => {
    if (list.everyone) return Infinity;
    return new Set([...list.ids].map((id) => (id.startsWith('person:') ? id : people.has(id) ? `person:${people.get(id)}` : id))).size;
  };

  const rules = new Map<PolicyOperation, RuleSpec>();
  for (const [operation, rule] of Object.entries(file.rules) as Array<[PolicyOperation, RuleFile]>) {
    const at = (...rest: PropertyKey[]) => ['rules', operation, ...rest];
    if ((DIRECT_OPERATIONS as readonly string[]).includes(operation)) {
      const extra = Object.keys(rule).filter((k) => k !== 'requesters');
      if (extra.length > 0) fail(at(extra[0]!), `${operation} runs at once without approval: its rule takes only requesters (not ${extra.join(', ')})`);
    }
    if (rule.reason === 'optional') fail(at('reason'), `${operation} always needs a reason (--reason); leave reason out or set it to required`);
    if (rule.max_devices !== undefined && operation !== 'av-scan.bulk' && operation !== 'av-scan') fail(at('max_devices'), 'max_devices applies to av-scan.bulk (scans of several devices)');
    if (rule.remind_times !== undefined && rule.remind === undefined) fail(at('remind_times'), 'remind_times needs remind (how long to wait before the first reminder)');
    const spec: { -readonly [K in keyof RuleSpec]: RuleSpec[K] } = {};
    if (rule.approvers) spec.approvers = membersOf(rule.approvers, at('approvers'));
    if (rule.requesters) spec.requesters = membersOf(rule.requesters, at('requesters'));
    if (rule.quorum !== undefined) spec.quorum = rule.quorum;
    if (rule.ttl !== undefined) spec.ttlMs = rule.ttl;
    if (rule.reason !== undefined) spec.reason = rule.reason;
    if (rule.cards) spec.cards = rule.cards as CardsRoute;
    if (rule.remind !== undefined) spec.remindMs = rule.remind;
    if (rule.remind_times !== undefined) spec.remindTimes = rule.remind_times;
    if (rule.escalate) spec.escalate = { afterMs: rule.escalate.after, to: membersOf(rule.escalate.to, at('escalate', 'to')), ...(rule.escalate.cards ? { cards: rule.escalate.cards as CardsRoute } : {}) };
    if (rule.max_devices !== undefined) spec.maxDevices = rule.max_devices;
    rules.set(operation, spec);
  }
  // A quorum nobody can reach would block every request: refused here (with the rules inherited).
  for (const operation of APPROVAL_OPERATIONS) {
    const chain = [operation, ...(operation === 'av-scan.full' || operation === 'av-scan.bulk' ? (['av-scan'] as const) : [])];
    const quorum = chain.map((op) => rules.get(op)?.quorum).find((q) => q !== undefined);
    if (quorum === undefined || quorum === 1) continue;
    const approvers = chain.map((op) => rules.get(op)?.approvers).find((a) => a !== undefined);
    const pool = approvers ?? { ...roles.approver, entries: file.roles.approver ?? [] };
    const available = headcount(pool);
    if (available < quorum) {
      const path = rules.get(operation)?.quorum !== undefined ? ['rules', operation, 'quorum'] : ['rules', chain[1]!, 'quorum'];
      fail(path, `quorum ${quorum} for ${operation}, but only ${available} ${available === 1 ? 'person' : 'people'} can approve it (${approvers ? 'its approvers' : 'roles.approver'})`);
    }
  }

  let breakGlass: BreakGlass | undefined;
  if (file.break_glass) breakGlass = { people: membersOf(file.break_glass.people, ['break_glass', 'people']), operations: file.break_glass.operations };

  return { ...roles, people, source, groups, rules, ...(breakGlass ? { breakGlass } : {}) };
}

export function loadPolicyFile(path: string): ApprovalPolicy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`POLICY_FILE ${path}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`, 'policy');
  }
  return parsePolicy(text, path);
}
