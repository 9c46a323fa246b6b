/** pino behind Bolt's Logger interface, so Bolt and the Web API client log through the app's logger (with its redaction). */
import { LogLevel, type Logger as BoltLogger } from '@slack/bolt';
import type { Logger } from 'pino';

const LEVELS: readonly LogLevel[] = [LogLevel.DEBUG, LogLevel.INFO, LogLevel.WARN, LogLevel.ERROR];

function text(msg: unknown[]): string {
  return msg.map((m) => (m instanceof Error ? m.message : typeof m === 'string' ? m : safeJson(m))).join(' ');
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

export function boltLogger(log: Logger): BoltLogger {
  let level: LogLevel = LogLevel.INFO;
  const enabled = (l: LogLevel) => LEVELS.indexOf(l) >= LEVELS.indexOf(level);
  return {
    // Bolt's debug output can include request bodies: it stays at pino's trace level.
    debug: (...msg: unknown[]) => enabled(LogLevel.DEBUG) && log.trace(text(msg)),
    info: (...msg: unknown[]) => enabled(LogLevel.INFO) && log.info(text(msg)),
    warn: (...msg: unknown[]) => enabled(LogLevel.WARN) && log.warn(text(msg)),
    error: (...msg: unknown[]) => enabled(LogLevel.ERROR) && log.error(text(msg)),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => {},
  };
}
