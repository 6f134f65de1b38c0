/** The logging surface the engine needs; Astro's integration logger satisfies it too. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export type LogLevel = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';

const ORDER: Record<LogLevel, number> = { DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40 };

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

export function consoleLogger(options: { level?: string; stream?: NodeJS.WritableStream } = {}): Logger {
  const threshold = ORDER[normalizeLevel(options.level)];
  const stream = options.stream ?? process.stderr;
  const emit = (level: LogLevel, message: string) => {
    if (ORDER[level] < threshold) return;
    const label = level === 'INFO' ? '' : `${level.toLowerCase()}: `;
    stream.write(`${label}${message}\n`);
  };
  return {
    debug: (message) => emit('DEBUG', message),
    info: (message) => emit('INFO', message),
    warn: (message) => emit('WARNING', message),
    error: (message) => emit('ERROR', message),
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
