/**
 * Teams' part of the directory: a user's e-mail address from the Teams member lookup
 * (`TeamsInfo.getMember`), asked in a conversation where the bot met the user (the latest
 * one this process saw, else their stored personal chat). The core caches the answer and
 * decides what it means (src/core/directory.ts); someone the bot never met has no address.
 */
import { TeamsInfo, type Activity } from 'botbuilder';
import { z } from 'zod';
import type { DirectorySources } from '../../src/core/directory.js';
import type { Store } from '../../src/store/types.js';
import { referenceOf, userKey, type StoredRef } from './conversations.js';
import type { TeamsPublisher } from './proactive.js';

const MAX_SEEN = 10_000;
const memberSchema = z.object({ email: z.string().nullish(), aadObjectId: z.string().nullish() });

export interface TeamsDirectory extends Required<Pick<DirectorySources, 'teamsEmail'>> {
  /** Remembers where a user was just seen (every authenticated activity). */
  saw(activity: Partial<Activity>): void;
}

export function createTeamsDirectory(deps: { store: Store; publisher: Pick<TeamsPublisher, 'continueIn'> }): TeamsDirectory {
  const seen = new Map<string, StoredRef>();

  return {
    saw(activity) {
      const aad = activity.from?.aadObjectId?.toLowerCase();
      if (!aad || !activity.conversation?.id || !activity.serviceUrl) return;
      seen.delete(aad);
      seen.set(aad, referenceOf(activity));
      if (seen.size > MAX_SEEN) seen.delete(seen.keys().next().value as string);
    },
    async teamsEmail(objectId) {
      const id = objectId.toLowerCase();
      const ref = seen.get(id) ?? ((await deps.store.getConversation(userKey(id)))?.ref as StoredRef | undefined);
      if (!ref) return undefined;
      let email: string | undefined;
      const asked = await deps.publisher.continueIn(ref, async (context) => {
        const found = await TeamsInfo.getMember(context, id).catch((error: { statusCode?: number }) => {
          if (error?.statusCode === 404) return undefined; // not a member there: no address, not an outage
          throw error;
        });
        const member = memberSchema.safeParse(found);
        // Only the account asked about: a lookup answering for someone else links nobody.
        if (member.success && member.data.aadObjectId?.toLowerCase() === id) email = member.data.email ?? undefined;
      });
      if (!asked) throw new Error('the conversation where the bot met this user cannot be reached from here');
      return email;
    },
  };
}
