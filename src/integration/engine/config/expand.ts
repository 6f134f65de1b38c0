/**
 * Environment-variable and home-directory expansion, compatible with CivitScraper's loader:
 *
 * - `${NAME}` and `$NAME` (NAME = `[A-Za-z_][A-Za-z0-9_]*`) are replaced in every string value,
 *   recursively through mappings and lists. Keys are never expanded, numbers and booleans are
 *   untouched. There is no `${NAME:-default}` syntax, no `$$` escape and no Windows `%NAME%`.
 * - An undefined variable is left literally (so the typo stays visible) and reported as a
 *   warning naming the key path. A variable set to the empty string expands to ''.
 * - `~`, `~/…` (and `~\…`) are expanded to the home directory, but only in path-like keys
 *   (see PATH_KEYS in load.ts); the seed tool only did this for `output.base_dir`.
 */
import path from 'node:path';
import { formatPath } from './errors.ts';
import { isPlainObject } from './shape.ts';

type Segment = string | number;
export type Env = Record<string, string | undefined>;

const VARIABLE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

export interface ExpandResult {
  value: string;
  /** Names referenced but not set in the environment. */
  missing: string[];
  /** True when at least one reference was replaced. */
  changed: boolean;
}

export function expandString(text: string, env: Env): ExpandResult {
  const missing: string[] = [];
  let changed = false;
  const value = text.replace(VARIABLE, (match, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare ?? '';
    const replacement = env[name];
    if (replacement === undefined) {
      if (!missing.includes(name)) missing.push(name);
      return match;
    }
    changed = true;
    return replacement;
  });
  return { value, missing, changed };
}

export interface ExpandEnvReport {
  warnings: string[];
  /** Paths of string values that changed; the loader may coerce them (e.g. "4" → 4). */
  changedPaths: Segment[][];
  /** How to name a place in warnings (e.g. with its YAML line); default: the dotted path. */
  where?: (segments: Segment[]) => string;
}

/** Expands variables in place, in every string value below `data`. */
export function expandEnvInPlace(data: unknown, env: Env, report: ExpandEnvReport, base: Segment[] = []): unknown {
  if (typeof data === 'string') {
    const result = expandString(data, env);
    for (const name of result.missing) {
      report.warnings.push(
        `${report.where ? report.where(base) : formatPath(base) || '(top level)'}: environment variable \`${name}\` is not set, so \`${
          data.includes(`\${${name}}`) ? `\${${name}}` : `$${name}`
        }\` is kept as literal text`,
      );
    }
    if (result.changed) report.changedPaths.push(base);
    return result.value;
  }
  if (Array.isArray(data)) {
    for (let index = 0; index < data.length; index++) {
      data[index] = expandEnvInPlace(data[index], env, report, [...base, index]);
    }
    return data;
  }
  if (isPlainObject(data)) {
    for (const key of Object.keys(data)) {
      data[key] = expandEnvInPlace(data[key], env, report, [...base, key]);
    }
  }
  return data;
}

/** `~` → home, `~/x` → home/x. Other values (including `~user`) are returned unchanged. */
export function expandHome(value: string, homeDir: string): string {
  if (value === '~') return homeDir;
  if (value.startsWith('~/') || value.startsWith('~\\')) return path.join(homeDir, value.slice(2));
  return value;
}

/**
 * A path-like config value made absolute: `~` expanded, relative paths resolved against
 * `baseDir` (the config file's folder). Template values starting with a `{placeholder}`
 * (e.g. `{model_dir}/organized`) are left untouched for the engine to fill in per model.
 */
export function resolvePathValue(value: string, baseDir: string, homeDir: string): string {
  if (value.startsWith('{')) return value;
  const expanded = expandHome(value, homeDir);
  return path.isAbsolute(expanded) ? path.normalize(expanded) : path.resolve(baseDir, expanded);
}
