/** The definition list cache shared by replicas through Redis (each replica its own connection). */
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MdeApi } from '../../src/mde/api.js';
import type { ScanDefinition } from '../../src/mde/entities.js';
import { sharedDefinitionList } from '../../src/mde/shared-list.js';
import { connectRedis, parseRedisUrl } from '../../src/store/redis-client.js';
import { redisForTests, sharedRedis } from '../helpers/redis.js';

const hasRedis = redisForTests('the shared definition list');
let redis: Awaited<ReturnType<typeof sharedRedis>> | undefined;
const clients: Redis[] = [];
beforeAll(async () => {
  if (hasRedis) redis = await sharedRedis();
});
afterAll(async () => {
  await redis?.close();
});
afterEach(() => {
  for (const c of clients.splice(0)) c.disconnect();
});

/** MDE as both replicas see it: one list, reads counted, and a read that can be held back. */
function fakeMde(state: { defs: ScanDefinition[]; reads: number; hold?: Promise<void> }): MdeApi {
  return {
    async listDefinitions() {
      state.reads += 1;
      const snapshot = [...state.defs];
      await state.hold;
      return snapshot;
    },
    async deleteDefinitions(ids: string[]) {
      state.defs = state.defs.filter((d) => !ids.includes(d.id));
    },
    async getMachine() {
      return null;
    },
  } as unknown as MdeApi;
}

const def = (id: string) => ({ id, scanType: 'Network', scanName: `Def ${id}` }) as unknown as ScanDefinition;

async function replicas(n: number, mde: MdeApi): Promise<MdeApi[]> {
  const target = parseRedisUrl(redis!.isolated());
  return Promise.all(
    Array.from({ length: n }, async () => {
      const client = await connectRedis(target);
      clients.push(client);
      return sharedDefinitionList(mde, client, { prefix: target.prefix, ttlMs: 10_000 });
    }),
  );
}

describe.skipIf(!hasRedis)('shared definition list (Redis)', () => {
  it('is read from MDE once for all replicas, and a delete on one replica drops it for all', async () => {
    const state = { defs: [def('a'), def('b')], reads: 0 };
    const [one, two] = await replicas(2, fakeMde(state));
    expect((await one!.listDefinitions()).map((d) => d.id)).toEqual(['a', 'b']);
    expect((await two!.listDefinitions()).map((d) => d.id)).toEqual(['a', 'b']);
    expect(state.reads).toBe(1);
    await two!.deleteDefinitions(['a']);
    expect((await one!.listDefinitions()).map((d) => d.id)).toEqual(['b']);
    expect(state.reads).toBe(2);
    expect(await one!.getMachine('x')).toBeNull(); // everything else passes through
  });

  it('a read that began before a write on another replica is not kept', async () => {
    let release!: () => void;
    const state: { defs: ScanDefinition[]; reads: number; hold?: Promise<void> } = { defs: [def('a'), def('b')], reads: 0, hold: new Promise<void>((r) => (release = r)) };
    const [one, two] = await replicas(2, fakeMde(state));
    const early = one!.listDefinitions(); // reads MDE before the delete...
    await new Promise((r) => setTimeout(r, 50));
    state.hold = undefined;
    await two!.deleteDefinitions(['a']); // ...which another replica makes meanwhile
    release();
    expect((await early).map((d) => d.id)).toEqual(['a', 'b']); // that caller asked before the delete
    expect((await one!.listDefinitions()).map((d) => d.id)).toEqual(['b']); // but nobody gets it afterwards
    expect((await two!.listDefinitions()).map((d) => d.id)).toEqual(['b']);
  });
});
