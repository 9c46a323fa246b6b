/**
 * The policy file (`POLICY_FILE`, YAML): who is who (`people`: one person, all of their
 * accounts), static `groups`, and who holds which role (`roles`). Read with the `yaml`
 * package, validated with zod; every error names the line and what is wrong.
 *
 * Sections the bot does not enforce yet (`rules`, `break_glass`) are refused rather than
 * silently ignored: an approval rule that is written down but not enforced would be worse
 * than none. Directory groups (`slack-group:S…`, `entra-group:<guid>`) are kept as such and
 * resolved when someone acts (core/directory.ts); `email:` links people by verified e-mail.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { createRolePolicy, directoryGroupSchema, roleEntrySchema, ROLES, type RolePolicy } from './core/roles.js';
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

export const policyFileSchema = z.strictObject(
  {
    people: z.array(personSchema).default([]),
    groups: z.record(z.string().trim().min(1), z.array(member)).default({}),
    roles: z.strictObject({ viewer: z.array(member).optional(), operator: z.array(member).optional(), approver: z.array(member).optional() }, { error: 'roles has viewer, operator and approver lists' }),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? `${issue.keys.join(', ')}: not supported yet (the file takes people, groups and roles)` : undefined) },
);

type PolicyFile = z.output<typeof policyFileSchema>;

/** Where a YAML path is in the file, as `line N`. */
function lineOf(doc: ReturnType<typeof parseDocument>, counter: LineCounter, path: readonly PropertyKey[]): string {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n) as unknown[], true) as { range?: [number, number, number] } | undefined;
    if (node?.range) return `line ${counter.linePos(node.range[0]).line}`;
  }
  return 'the file';
}

/** The file's text → a role policy with people linked; throws ConfigError naming the line. */
export function parsePolicy(text: string, source: string): RolePolicy {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new ConfigError(`POLICY_FILE ${source}: line ${e.linePos?.[0]?.line ?? '?'}: ${e.message.split('\n')[0]}`, 'policy');
  }
  const parsed = policyFileSchema.safeParse(doc.toJS());
  if (!parsed.success) {
    const lines = parsed.error.issues.slice(0, 5).map((i) => `${lineOf(doc, counter, i.path)} (${i.path.join('.') || 'top level'}): ${i.message}`);
    throw new ConfigError(`POLICY_FILE ${source}:\n  ${lines.join('\n  ')}`, 'policy');
  }
  return policyFrom(parsed.data, source, (path) => lineOf(doc, counter, path));
}

function policyFrom(file: PolicyFile, source: string, where: (path: PropertyKey[]) => string): RolePolicy {
  const people = new Map<string, string>();
  const emails = new Map<string, string>();
  const names = new Set<string>();
  file.people.forEach((p, i) => {
    if (names.has(p.name)) throw new ConfigError(`POLICY_FILE ${source}: ${where(['people', i, 'name'])}: ${p.name} is listed twice`, 'policy');
    names.add(p.name);
    if (p.email) {
      const email = p.email.toLowerCase();
      const other = emails.get(email);
      if (other) throw new ConfigError(`POLICY_FILE ${source}: ${where(['people', i, 'email'])}: ${p.email} belongs to both ${other} and ${p.name}`, 'policy');
      emails.set(email, p.name);
    }
    for (const account of [p.slack, p.teams]) {
      if (!account) continue;
      const other = people.get(account);
      if (other) throw new ConfigError(`POLICY_FILE ${source}: ${where(['people', i])}: ${account} belongs to both ${other} and ${p.name}`, 'policy');
      people.set(account, p.name);
    }
  });

  /** A role or group entry → `*`, an account, or `person:<name>`; groups expand to their members. */
  const expand = (entry: string, path: PropertyKey[], seen: readonly string[] = []): string[] => {
    if (entry === '*') return ['*'];
    if (/^(slack-group|entra-group):/i.test(entry)) {
      const group = directoryGroupSchema.safeParse(entry);
      if (group.success) return [group.data];
      const hint = /^slack/i.test(entry) ? 'slack-group:<user group id> (e.g. slack-group:S0123ABC)' : 'entra-group:<group object id> (a GUID)';
      throw new ConfigError(`POLICY_FILE ${source}: ${where(path)}: "${entry}" is not a directory group: write ${hint}`, 'policy');
    }
    const account = roleEntrySchema.safeParse(entry);
    if (account.success) return [account.data];
    if (names.has(entry)) return [`person:${entry}`];
    const group = file.groups[entry];
    if (group) {
      if (seen.includes(entry)) throw new ConfigError(`POLICY_FILE ${source}: ${where(path)}: the group ${entry} contains itself`, 'policy');
      return group.flatMap((m, i) => expand(m, ['groups', entry, i], [...seen, entry]));
    }
    throw new ConfigError(`POLICY_FILE ${source}: ${where(path)}: "${entry}" is neither a person, a group, slack:<id>, teams:<object id>, slack-group:<id>, entra-group:<id> nor *`, 'policy');
  };

  const lists = Object.fromEntries(ROLES.map((role) => [role, (file.roles[role] ?? []).flatMap((e, i) => expand(e, ['roles', role, i]))]));
  return { ...createRolePolicy(lists), people, ...(emails.size > 0 ? { emails } : {}), source };
}

export function loadPolicyFile(path: string): RolePolicy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`POLICY_FILE ${path}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`, 'policy');
  }
  return parsePolicy(text, path);
}
