/** The logging surface the engine needs; Astro's integration logger satisfies it too. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export type LogLevel = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';

/** Lower is more verbose: a sink shows the levels at or above its own. */
export const LOG_LEVEL_ORDER: Record<LogLevel, number> = { DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40 };

export function normalizeLevel(level: string | undefined): LogLevel {
  switch ((level ?? 'INFO').toUpperCase()) {
    case 'DEBUG':
      return 'DEBUG';
    case 'WARN':
    case 'WARNING':
      return 'WARNING';
    case 'ERROR':
    case 'CRITICAL':
      return 'ERROR';
    default:
      return 'INFO';
  }
}

/**
 * Wraps a sink so that secrets never reach it, whatever the caller formats into a message.
 */
export function redactingLogger(inner: Logger, secrets: readonly (string | undefined)[]): Logger {
  const values = secrets.filter((secret): secret is string => typeof secret === 'string' && secret.length >= 4);
  if (values.length === 0) return inner;
  const scrub = (message: string) => values.reduce((text, secret) => text.split(secret).join('***'), message);
  return {
    debug: (message) => inner.debug(scrub(message)),
    info: (message) => inner.info(scrub(message)),
    warn: (message) => inner.warn(scrub(message)),
    error: (message) => inner.error(scrub(message)),
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
