/**
 * Slack's part of the directory, through Bolt's Web API client: the members of a user group
 * (`usergroups.users.list`, scope `usergroups:read`) and a user's confirmed e-mail address
 * (`users.info`, scope `users:read.email`). The core caches the answers and decides what
 * they mean (src/core/directory.ts); a failure is reported as such, never as "no members".
 */
import type { webApi } from '@slack/bolt';
import { z } from 'zod';
import type { DirectorySources } from '../../src/core/directory.js';
import { slackErrorCode } from './runtime.js';

const groupSchema = z.object({ users: z.array(z.string().regex(/^[A-Z0-9]{2,32}$/i)).default([]) });
const userSchema = z.object({
  user: z
    .object({
      deleted: z.boolean().optional(),
      is_bot: z.boolean().optional(),
      is_email_confirmed: z.boolean().optional(),
      profile: z.object({ email: z.string().optional() }).optional(),
    })
    .optional(),
});

const HINTS: Record<string, string> = {
  missing_scope: 'the Slack app lacks a scope (usergroups:read for user groups, users:read.email for e-mail links): add it and reinstall the app',
  no_such_subteam: 'no such user group (check slack-group in the policy file)',
  subteam_not_found: 'no such user group (check slack-group in the policy file)',
};

async function call<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const code = slackErrorCode(error);
    throw new Error(`${what}: ${HINTS[code] ? `${code}, ${HINTS[code]}` : code}`);
  }
}

export function slackDirectory(client: webApi.WebClient): Required<Pick<DirectorySources, 'slackGroupMembers' | 'slackEmail'>> {
  return {
    async slackGroupMembers(groupId) {
      const answer = await call('usergroups.users.list', () => client.usergroups.users.list({ usergroup: groupId, include_disabled: false }));
      const parsed = groupSchema.safeParse(answer);
      if (!parsed.success) throw new Error('usergroups.users.list: the answer held no list of users');
      return parsed.data.users;
    },
    async slackEmail(userId) {
      const answer = await call('users.info', () =>
        client.users.info({ user: userId }).catch((error: unknown) => {
          if (slackErrorCode(error) === 'user_not_found') return { ok: true }; // nobody to link, not an outage
          throw error;
        }),
      );
      const user = userSchema.safeParse(answer).data?.user;
      // Only a confirmed address of a person who is still there links anyone.
      if (!user || user.deleted || user.is_bot || user.is_email_confirmed === false) return undefined;
      return user.profile?.email;
    },
  };
}
