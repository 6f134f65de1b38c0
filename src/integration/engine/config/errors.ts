/**
 * Friendly configuration errors.
 *
 * A `ConfigError` carries a human-readable `message` meant to be printed as is (no stack trace
 * needed): the first line names the file, then one line per problem with the dotted key path,
 * the YAML line when known, what was expected and what was found. The same problems are also
 * available in `issues` for programmatic use (tests, the integration's logger, JSON reports).
 */

export type ConfigErrorCode =
  | 'CONFIG_NOT_FOUND'
  | 'CONFIG_UNREADABLE'
  | 'CONFIG_YAML'
  | 'CONFIG_INVALID'
  | 'CONFIG_JOB';

export interface ConfigIssue {
  /** Dotted key path such as `jobs.daily.output.images.max_count`; '' for the whole file. */
  path: string;
  message: string;
  /** 1-based line in the YAML file, when known. */
  line?: number;
  /** 1-based column in the YAML file, when known (YAML syntax errors). */
  column?: number;
}

export interface ConfigErrorOptions {
  file?: string;
  issues?: ConfigIssue[];
  /** For CONFIG_NOT_FOUND: every place that was looked at, in order. */
  searched?: string[];
  cause?: unknown;
}

export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  readonly file: string | undefined;
  readonly issues: ConfigIssue[];
  readonly searched: string[] | undefined;

  constructor(code: ConfigErrorCode, message: string, options: ConfigErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConfigError';
    this.code = code;
    this.file = options.file;
    this.issues = options.issues ?? [];
    this.searched = options.searched;
  }
}

export function isConfigError(value: unknown): value is ConfigError {
  return value instanceof ConfigError;
}

/** `header` on the first line, then one indented line per issue. */
export function formatIssueBlock(header: string, issues: readonly ConfigIssue[]): string {
  const lines = issues.map((issue) => `  - ${formatIssue(issue)}`);
  return [header, ...lines].join('\n');
}

export function formatIssue(issue: ConfigIssue): string {
  const where: string[] = [];
  if (issue.line !== undefined) {
    where.push(issue.column !== undefined ? `line ${issue.line}, column ${issue.column}` : `line ${issue.line}`);
  }
  if (issue.path === '') {
    return `${where.length > 0 ? where.join(', ') : '(top level)'}: ${issue.message}`;
  }
  return `${issue.path}${where.length > 0 ? ` (${where.join(', ')})` : ''}: ${issue.message}`;
}

/** Dotted path; keys that are not plain identifiers are quoted, list indices in brackets. */
export function formatPath(segments: readonly (string | number)[]): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** Short description of a value found in the file, for "got …" messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (typeof value === 'string') {
    const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
    return JSON.stringify(shown);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (value instanceof Date) return `the date ${value.toISOString().slice(0, 10)}`;
  if (typeof value === 'object') return 'a mapping';
  return typeof value;
}

export function quoteList(values: readonly string[]): string {
  return values.map((value) => `\`${value}\``).join(', ');
}

export function levenshtein(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
    }
    previous = current;
  }
  return previous[b.length] ?? Math.max(a.length, b.length);
}

/**
 * The closest candidate within `maxDistance` edits (case, `-`/`_` and surrounding space
 * differences are free), or undefined. Very short words need a closer match.
 */
export function suggest(word: string, candidates: Iterable<string>, maxDistance = 2): string | undefined {
  const normal = (value: string) => value.trim().toLowerCase().replace(/-/g, '_');
  const target = normal(word);
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    if (candidate === word) continue;
    const distance = levenshtein(target, normal(candidate));
    const limit = Math.min(maxDistance, Math.max(1, Math.floor(Math.min(target.length, candidate.length) / 2)));
    if (distance <= limit && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

export function didYouMean(word: string, candidates: Iterable<string>): string {
  const match = suggest(word, candidates);
  return match === undefined ? '' : ` — did you mean \`${match}\`?`;
}
