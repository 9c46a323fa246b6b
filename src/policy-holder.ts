/**
 * The policy in force, and its reloads. With `POLICY_FILE`, the file is watched (the file
 * and its folder: editors replace files rather than write them in place, and a watch on a
 * replaced file goes quiet) and re-read on SIGHUP; changes are debounced. A new version is
 * validated as a whole before it replaces the old one: a bad file is refused, logged and
 * announced, and the old policy stays in force.
 *
 * Readers call `current()` each time; nothing keeps a policy object across a reload.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { ApprovalPolicy, PolicySource, RuleDefaults } from './core/approval-policy.js';
import { loadPolicyFile } from './policy-file.js';

export type ReloadResult = { ok: true; policy: ApprovalPolicy; changed: boolean } | { ok: false; error: string };

export interface PolicyHolder extends PolicySource {
  /** The policy file, when the policy comes from one. */
  readonly file?: string;
  /** Reads the file again; a bad version is refused and the old policy stays. */
  reload(): ReloadResult;
  /** Watches the file and listens for SIGHUP (without a file, SIGHUP is only logged). */
  watch(): void;
  close(): void;
}

export interface PolicyHolderOptions {
  initial: ApprovalPolicy;
  /** POLICY_FILE; without it the policy is fixed (the BOT_* shorthand). */
  file?: string;
  defaults: RuleDefaults;
  log?: Logger;
  /** Told (once per refusal) when a new version of the file is refused: the bot posts it where approvers see it. */
  onRefused?: (message: string) => void;
  /** Told after a new version took effect. */
  onReloaded?: (policy: ApprovalPolicy) => void;
  /** How long file events are gathered before reading (ms). */
  debounceMs?: number;
}

export function createPolicyHolder(options: PolicyHolderOptions): PolicyHolder {
  const { log, defaults } = options;
  const file = options.file ? resolve(options.file) : undefined;
  let policy = options.initial;
  let lastText = '';
  let watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  let lastRefusal: string | undefined;
  let watching = false;
  const onHup = () => {
    if (!file) {
      log?.info('SIGHUP: no POLICY_FILE, nothing to reload (the BOT_* lists are read at start)');
      return;
    }
    log?.info({ file }, 'SIGHUP: reloading the policy file');
    reload();
  };

  function reload(): ReloadResult {
    if (!file) return { ok: true, policy, changed: false };
    let next: ApprovalPolicy;
    try {
      next = loadPolicyFile(file);
    } catch (error) {
      const message = (error as Error).message;
      log?.error({ file, err: message }, 'policy file refused: the previous policy stays in force');
      // An editor saving twice, or the watch and SIGHUP together, must not announce one mistake twice.
      if (message !== lastRefusal) {
        lastRefusal = message;
        try {
          options.onRefused?.(`The new version of the policy file was refused; the previous policy stays in force (loaded ${policy.loadedAt ?? 'at start'}).\n${message}`);
        } catch {
          // an announcement must not break the reload
        }
      }
      return { ok: false, error: message };
    }
    lastRefusal = undefined;
    const text = fingerprint(next);
    const changed = text !== lastText;
    lastText = text;
    policy = next;
    if (changed) {
      log?.info({ file, loadedAt: next.loadedAt, rules: [...(next.rules?.keys() ?? [])] }, 'policy file loaded');
      options.onReloaded?.(next);
    }
    return { ok: true, policy, changed };
  }

  function schedule() {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      reload();
    }, options.debounceMs ?? 200);
    timer.unref();
  }

  lastText = fingerprint(policy);
  return {
    file,
    defaults,
    current: () => policy,
    reload,
    watch() {
      if (watching) return;
      watching = true;
      // Without a handler SIGHUP ends the process: with the BOT_* lists it is only logged.
      process.on('SIGHUP', onHup);
      if (!file) return;
      const name = basename(file);
      const onError = (error: Error) => log?.warn({ file, err: error.message }, 'policy file watch failed; SIGHUP still reloads it');
      try {
        const folder = watch(dirname(file), { persistent: false }, (_event, changed) => {
          if (changed === null || changed === name) schedule();
        });
        folder.on('error', onError);
        watchers.push(folder);
      } catch (error) {
        onError(error as Error);
      }
      try {
        const own = watch(file, { persistent: false }, () => schedule());
        own.on('error', onError);
        watchers.push(own);
      } catch (error) {
        onError(error as Error);
      }
    },
    close() {
      if (timer) clearTimeout(timer);
      for (const w of watchers) w.close();
      watchers = [];
      watching = false;
      process.off('SIGHUP', onHup);
    },
  };
}

/** What a policy says, as text (to tell a real change from a touch). */
function fingerprint(policy: ApprovalPolicy): string {
  return JSON.stringify({ ...policy, loadedAt: undefined }, (_key, value: unknown) => {
    if (value instanceof Set) return [...(value as Set<unknown>)].sort();
    if (value instanceof Map) return [...(value as Map<unknown, unknown>).entries()];
    return value;
  });
}
