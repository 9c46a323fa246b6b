/** pino behind Bolt's Logger interface, so Bolt and the Web API client log through the app's logger (with its redaction). */
import { LogLevel, type Logger as BoltLogger } from '@slack/bolt';
import type { Logger } from 'pino';

const LEVELS: readonly LogLevel[] = [LogLevel.DEBUG, LogLevel.INFO, LogLevel.WARN, LogLevel.ERROR];

/** Strings become the message; objects stay objects, so pino's redaction paths apply to them. */
function entry(msg: unknown[]): [Record<string, unknown>, string] {
  const text = msg.map((m) => (m instanceof Error ? m.message : typeof m === 'string' ? m : '')).filter(Boolean).join(' ');
  const detail = msg.filter((m) => m !== null && typeof m === 'object' && !(m instanceof Error));
  return [detail.length ? { detail } : {}, text];
}

export function boltLogger(log: Logger): BoltLogger {
  let level: LogLevel = LogLevel.INFO;
  const enabled = (l: LogLevel) => LEVELS.indexOf(l) >= LEVELS.indexOf(level);
  return {
    // Bolt's debug output includes raw request bodies (modal submissions carry secrets): never logged.
    debug: () => undefined,
    info: (...msg: unknown[]) => enabled(LogLevel.INFO) && log.info(...entry(msg)),
    warn: (...msg: unknown[]) => enabled(LogLevel.WARN) && log.warn(...entry(msg)),
    error: (...msg: unknown[]) => enabled(LogLevel.ERROR) && log.error(...entry(msg)),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => {},
  };
}
