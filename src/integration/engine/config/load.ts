/**
 * Finds, reads and validates the YAML config, in CivitScraper's format, so users can bring their
 * existing file over. What this adds on top of the seed tool's loader:
 *
 * - Every problem is reported at once as a `ConfigError` naming the file, the key path and the
 *   YAML line; unknown keys are warnings with "did you mean" suggestions (the seed ignored them).
 * - YAML is read as YAML 1.1 like PyYAML did (`yes`/`no`/`on`/`off` are booleans, `<<` merge
 *   keys work). Duplicate keys are a warning (last one wins, as with PyYAML), not an error.
 * - `CIVITSCRAPER_CONFIG` naming a missing file is an error (the seed silently ignored it).
 * - `~` is expanded in every path-like key (the seed only did it for `output.base_dir`), and
 *   relative paths there are resolved against the folder of the config file. The seed resolved
 *   them against the current directory, which is the same thing in the common case of a config
 *   file in the project folder; values starting with a `{placeholder}` stay templates.
 * - The example placeholder `YOUR_API_KEY` is never sent to CivitAI.
 *
 * Order of work: parse → warn about duplicate/unknown/ignored keys → drop empty (null) optional
 * keys → expand `${VAR}` → CIVITAI_API_KEY override → per scan job: legacy organization keys and
 * `defaults.organization`, then top-level `output` deep-merged under the job's `output` (the job
 * wins) → validate with the zod schema → check references (`paths`, `default_job`) and the path
 * templates and targets (templates.ts) → resolve paths. Each warning is reported once.
 */
import { readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Document, Node as YamlNode, Pair, YAMLMap } from 'yaml';
import type { z } from 'zod';
import {
  ConfigError,
  describeValue,
  didYouMean,
  formatIssueBlock,
  formatPath,
  quoteList,
  suggest,
} from './errors.ts';
import type { ConfigIssue } from './errors.ts';
import { expandEnvInPlace, expandHome, expandString, resolvePathValue } from './expand.ts';
import type { Env } from './expand.ts';
import { CollisionPolicySchema, ConfigSchema, OperationModeSchema } from './schema.ts';
import type { Config, OutputConfig, ScanJob } from './schema.ts';
import { checkTemplate, isInModelDir, rootLikeTarget, type TemplateKind } from './templates.ts';
import {
  childSchema,
  describeExpected,
  discriminatorOf,
  isOmittable,
  isPlainObject,
  kindOf,
  objectKeys,
  schemaAt,
} from './shape.ts';

type Segment = string | number;
type Schema = z.core.$ZodType;
type Raw = Record<string, unknown>;

export interface LoadConfigOptions {
  /** An explicit file (CLI `--config`, integration option). Must exist. */
  configPath?: string;
  /** Where `./civitscraper.yaml` etc. are looked for; default process.cwd(). */
  cwd?: string;
  /** Environment for `${VAR}`, CIVITSCRAPER_CONFIG and CIVITAI_API_KEY; default process.env. */
  env?: Record<string, string | undefined>;
  /** Home directory for `~`; default os.homedir(). */
  homeDir?: string;
}

export interface ParseConfigOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  homeDir?: string;
}

export interface LoadedConfig {
  config: Config;
  /** Absolute path of the file that was read. */
  file: string;
  /** Non-fatal findings (unknown keys, unset variables, deprecated keys…), one line each. */
  warnings: string[];
}

export const NOT_FOUND_HINT =
  'To try it on a bundled sample library run `npm run demo`; to use your own library create civitscraper.yaml (see README)';

const API_KEY_PLACEHOLDER = /^your[\s_-]*(civitai[\s_-]*)?api[\s_-]*key$/i;

// ---------------------------------------------------------------------------------------------
// Lookup

interface ResolvedOptions {
  cwd: string;
  env: Env;
  homeDir: string;
}

function resolveOptions(options: ParseConfigOptions): ResolvedOptions {
  return {
    cwd: path.resolve(options.cwd ?? process.cwd()),
    env: options.env ?? process.env,
    homeDir: options.homeDir ?? os.homedir(),
  };
}

function userFile(value: string, { cwd, homeDir }: ResolvedOptions): string {
  return path.resolve(cwd, expandHome(value, homeDir));
}

/**
 * The places `loadConfig` looks, in order. With `configPath`, or with `CIVITSCRAPER_CONFIG` set,
 * that one file is the only place (it must exist). Otherwise: `./civitscraper.yaml`,
 * `./civitscraper.yml`, `./config/default.yaml` (relative to cwd), then
 * `~/.config/civitscraper/config.yaml`, `~/.civitscraper.yaml`.
 */
export function configSearchPaths(options: LoadConfigOptions = {}): string[] {
  const resolved = resolveOptions(options);
  if (options.configPath !== undefined && options.configPath.trim() !== '') {
    return [userFile(options.configPath.trim(), resolved)];
  }
  const fromEnv = resolved.env.CIVITSCRAPER_CONFIG?.trim();
  if (fromEnv) return [userFile(fromEnv, resolved)];
  const { cwd, homeDir } = resolved;
  const places = [
    path.join(cwd, 'civitscraper.yaml'),
    path.join(cwd, 'civitscraper.yml'),
    path.join(cwd, 'config', 'default.yaml'),
    path.join(homeDir, '.config', 'civitscraper', 'config.yaml'),
    path.join(homeDir, '.civitscraper.yaml'),
  ];
  return [...new Set(places)];
}

async function statOrUndefined(file: string) {
  try {
    return await stat(file);
  } catch {
    return undefined;
  }
}

/** The config file `loadConfig` would read; throws CONFIG_NOT_FOUND / CONFIG_UNREADABLE. */
export async function findConfigFile(options: LoadConfigOptions = {}): Promise<string> {
  const places = configSearchPaths(options);
  const explicit = options.configPath !== undefined && options.configPath.trim() !== '';
  const fromEnv = !explicit && Boolean((options.env ?? process.env).CIVITSCRAPER_CONFIG?.trim());
  if (explicit || fromEnv) {
    const file = places[0] as string;
    const info = await statOrUndefined(file);
    if (!info) {
      const why = explicit
        ? `It was given explicitly (--config / configPath "${options.configPath}"); check the path.`
        : `The CIVITSCRAPER_CONFIG environment variable points there; fix the path or unset the variable.`;
      throw new ConfigError('CONFIG_NOT_FOUND', `Config file not found: ${file}\n  ${why}`, {
        file,
        searched: places,
      });
    }
    if (!info.isFile()) {
      throw new ConfigError('CONFIG_UNREADABLE', `Config file ${file} is not a file (it is a directory?)`, { file });
    }
    return file;
  }
  for (const place of places) {
    const info = await statOrUndefined(place);
    if (info?.isFile()) return place;
  }
  throw new ConfigError(
    'CONFIG_NOT_FOUND',
    ['No CivitScraper config file found. Looked in:', ...places.map((place) => `  - ${place}`), NOT_FOUND_HINT].join('\n'),
    { searched: places },
  );
}

/** Lookup + read + validate. Throws `ConfigError`. */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const resolved = resolveOptions(options);
  const file = await findConfigFile({ ...options, cwd: resolved.cwd, env: resolved.env, homeDir: resolved.homeDir });
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const reason = error instanceof Error && 'code' in error ? ` (${String(error.code)})` : '';
    throw new ConfigError('CONFIG_UNREADABLE', `Could not read config file ${file}${reason}`, { file, cause: error });
  }
  return parseConfig(text, file, resolved);
}

// ---------------------------------------------------------------------------------------------
// YAML positions

/** A mapping key as text; merge keys (`<<`, a symbol once parsed) come out as '<<'. */
function keyOf(pair: Pair): string {
  if (!isScalar(pair.key)) return String(pair.key);
  const value = pair.key.value;
  return typeof value === 'symbol' ? (value.description ?? '') : String(value);
}

class Locator {
  readonly doc: Document;
  readonly lines: LineCounter;

  constructor(doc: Document, lines: LineCounter) {
    this.doc = doc;
    this.lines = lines;
  }

  private lineAt(node: YamlNode | null | undefined): number | undefined {
    const offset = node?.range?.[0];
    return offset === undefined ? undefined : this.lines.linePos(offset).line;
  }

  private findPair(map: YAMLMap, key: string, depth = 0): Pair | undefined {
    let found: Pair | undefined;
    for (const pair of map.items) if (keyOf(pair) === key) found = pair; // last one wins
    if (found || depth > 10) return found;
    for (const pair of map.items) {
      if (keyOf(pair) !== '<<') continue;
      const sources = isSeq(pair.value) ? pair.value.items : [pair.value];
      for (const source of sources) {
        const target = isAlias(source) ? source.resolve(this.doc) : source;
        if (isMap(target)) {
          const inner = this.findPair(target, key, depth + 1);
          if (inner) return inner;
        }
      }
    }
    return undefined;
  }

  /** Line of the deepest existing key/item along `segments` (the parent when a key is missing). */
  line(segments: readonly Segment[]): number | undefined {
    let node: unknown = this.doc.contents;
    let line: number | undefined;
    for (const segment of segments) {
      if (isAlias(node)) node = node.resolve(this.doc);
      if (isMap(node) && typeof segment === 'string') {
        const pair = this.findPair(node, segment);
        if (!pair) break;
        line = this.lineAt(pair.key as YamlNode) ?? line;
        node = pair.value;
      } else if (isSeq(node) && typeof segment === 'number') {
        const item = node.items[segment];
        if (!item) break;
        line = this.lineAt(item as YamlNode) ?? line;
        node = item;
      } else break;
    }
    return line;
  }

  /** Keys that appear more than once in the same mapping: [path, lines]. */
  duplicates(): { segments: Segment[]; lines: number[] }[] {
    const found: { segments: Segment[]; lines: number[] }[] = [];
    const visit = (node: unknown, segments: Segment[]) => {
      if (isMap(node)) {
        const seen = new Map<string, number[]>();
        for (const pair of node.items) {
          const key = keyOf(pair);
          if (key === '<<') continue;
          const list = seen.get(key) ?? [];
          list.push(this.lineAt(pair.key as YamlNode) ?? 0);
          seen.set(key, list);
          visit(pair.value, [...segments, key]);
        }
        for (const [key, lines] of seen) if (lines.length > 1) found.push({ segments: [...segments, key], lines });
      } else if (isSeq(node)) {
        node.items.forEach((item, index) => visit(item, [...segments, index]));
      }
    };
    visit(this.doc.contents, []);
    return found;
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers on plain data

function getAt(data: unknown, segments: readonly Segment[]): unknown {
  let current = data;
  for (const segment of segments) {
    if (isPlainObject(current) || Array.isArray(current)) current = (current as Record<string, unknown>)[segment];
    else return undefined;
  }
  return current;
}

function hasAt(data: unknown, segments: readonly Segment[]): boolean {
  const parent = getAt(data, segments.slice(0, -1));
  const last = segments[segments.length - 1];
  if (last === undefined) return data !== undefined;
  return (isPlainObject(parent) || Array.isArray(parent)) && Object.hasOwn(parent, last);
}

function setAt(data: unknown, segments: readonly Segment[], value: unknown): void {
  const parent = getAt(data, segments.slice(0, -1));
  const last = segments[segments.length - 1];
  if (last !== undefined && (isPlainObject(parent) || Array.isArray(parent))) {
    (parent as Record<string, unknown>)[last] = value;
  }
}

function deleteAt(data: unknown, segments: readonly Segment[]): void {
  const parent = getAt(data, segments.slice(0, -1));
  const last = segments[segments.length - 1];
  if (last !== undefined && isPlainObject(parent)) delete parent[last];
}

/** `base` with `over` deep-merged on top (mappings merge, everything else is replaced). */
function deepMerge(base: Raw, over: Raw): Raw {
  const result: Raw = structuredClone(base);
  for (const [key, value] of Object.entries(over)) {
    const existing = result[key];
    result[key] = isPlainObject(existing) && isPlainObject(value) ? deepMerge(existing, value) : structuredClone(value);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Parsing

class Context {
  readonly file: string;
  readonly locator: Locator;
  readonly warnings: string[] = [];
  /** "parent.path/intendedKey" → the unknown key that is probably a typo of it. */
  readonly typos = new Map<string, string>();

  constructor(file: string, locator: Locator) {
    this.file = file;
    this.locator = locator;
  }

  where(segments: readonly Segment[]): string {
    const line = this.locator.line(segments);
    return `${formatPath(segments) || '(top level)'}${line === undefined ? '' : ` (line ${line})`}`;
  }

  warn(segments: readonly Segment[], message: string): void {
    this.warnings.push(`${this.where(segments)}: ${message}`);
  }
}

/** A specific note for keys the seed documented or accepted but that do nothing. */
function ignoredKeyNote(segments: readonly Segment[], value: unknown): string | undefined {
  const last = segments[segments.length - 1];
  const parent = segments[segments.length - 2];
  const inJob = segments[0] === 'jobs' && segments.length === 3;
  if (inJob && last === 'organize') {
    return 'has no effect (CivitScraper ignored it too): organizing is switched on with `organization.enabled: true`';
  }
  if (inJob && last === 'dry_run') {
    return 'is not supported per job and is ignored: use `--dry-run` on the command line or top-level `dry_run: true` (`organization.dry_run: true` only plans the job\'s organization)';
  }
  if (inJob && (last === 'scanner' || last === 'api' || last === 'logging')) {
    return `per-job \`${last}\` settings are not supported and are ignored: set them in the top-level \`${last}\` section`;
  }
  // `json` is the seed's own value and what we write: nothing to say. Anything else is not honoured.
  if (last === 'format' && parent === 'metadata' && segments[segments.length - 3] === 'output' && value !== 'json') {
    return 'has no effect: metadata sidecars are always JSON (you can delete this line)';
  }
  if (segments.length === 3 && segments[0] === 'api' && parent === 'batch' && last === 'enabled') {
    return 'has no effect: CivitScraper only read it in code that never ran, and there is nothing here to switch off (you can delete this line)';
  }
  if (last === 'skip_existing_html' && parent === 'html' && segments[segments.length - 3] === 'metadata') {
    return 'has no effect: model pages are part of the site, which is always built as a whole (unchanged images come from the cache); you can delete this line';
  }
  if (segments.length === 2 && parent === 'scanner' && last === 'version_cache_validity') {
    return 'has no effect: every cached CivitAI answer stays fresh for `scanner.cache_validity` seconds (you can delete this line)';
  }
  if (segments.length === 1 && last === 'organization') {
    return 'top-level `organization` is not used: put it inside each scan job (`jobs.<name>.organization`); shared `operation_mode`/`on_collision` go in `defaults.organization`';
  }
  return undefined;
}

/** Warns about unknown and ignored keys; returns the paths of ignored keys to delete. */
function checkKeys(ctx: Context, schema: Schema, value: unknown, segments: Segment[], remove: Segment[][]): void {
  if (!isPlainObject(value)) return;
  if (kindOf(schema) === 'record') {
    for (const key of Object.keys(value)) {
      const child = childSchema(schema, value, key);
      if (child) checkKeys(ctx, child, value[key], [...segments, key], remove);
    }
    return;
  }
  const known = objectKeys(schema, value);
  if (!known) return;
  for (const key of Object.keys(value)) {
    const keyPath = [...segments, key];
    const note = ignoredKeyNote(keyPath, value[key]);
    if (note) {
      ctx.warn(keyPath, note);
      remove.push(keyPath);
      continue;
    }
    if (known.includes(key)) {
      const child = childSchema(schema, value, key);
      if (child) checkKeys(ctx, child, value[key], keyPath, remove);
      continue;
    }
    const match = suggest(key, known.filter((candidate) => !Object.hasOwn(value, candidate)));
    if (match) ctx.typos.set(formatPath([...segments, match]), key);
    const hint = match
      ? ` — did you mean \`${match}\`?`
      : known.length <= 14
        ? ` (known keys here: ${known.join(', ')})`
        : '';
    ctx.warn(keyPath, `unknown key, ignored${hint}`);
  }
}

/** `key:` with nothing after it: treat as absent when the key is optional or has a default. */
function dropNulls(ctx: Context, schema: Schema, value: unknown, segments: Segment[]): void {
  if (!isPlainObject(value)) return;
  for (const key of Object.keys(value)) {
    const keyPath = [...segments, key];
    const child = childSchema(schema, value, key);
    if (!child) continue;
    const item = value[key];
    if (item === null) {
      if (formatPath(keyPath) === 'api.key') continue; // reported with the other api key cases
      if ((child as z.ZodType).safeParse(null).success) continue; // empty means something here (`max_count:` = no limit)
      if (!isOmittable(child)) continue; // the schema reports it
      delete value[key];
      const kind = kindOf(child);
      if (kind !== 'object' && kind !== 'record' && kind !== 'union') {
        ctx.warn(keyPath, 'is empty, so the default is used');
      }
      continue;
    }
    dropNulls(ctx, child, item, keyPath);
  }
}

/** "4" from `${MAX_IMAGES}` becomes 4 where the schema wants a number (same for booleans). */
function coerceExpanded(raw: Raw, changed: Segment[][]): void {
  for (const segments of changed) {
    const value = getAt(raw, segments);
    const schema = schemaAt(ConfigSchema, raw, segments);
    if (typeof value !== 'string' || !schema) continue;
    const kind = kindOf(schema);
    const text = value.trim();
    if (kind === 'number' && /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(text)) setAt(raw, segments, Number(text));
    if (kind === 'boolean' && /^(true|false|yes|no|on|off)$/i.test(text)) {
      setAt(raw, segments, /^(true|yes|on)$/i.test(text));
    }
  }
}

function applyApiKey(ctx: Context, raw: Raw, env: Env): void {
  const fromEnv = env.CIVITAI_API_KEY?.trim();
  if (fromEnv) {
    if (raw.api === undefined) raw.api = {};
    if (isPlainObject(raw.api)) raw.api.key = fromEnv;
    return;
  }
  if (!isPlainObject(raw.api) || !Object.hasOwn(raw.api, 'key')) return;
  const key = raw.api.key;
  const noKey = 'running without an API key (set the CIVITAI_API_KEY environment variable or `api.key`; some models and NSFW previews need one)';
  if (key === null || (typeof key === 'string' && key.trim() === '')) {
    delete raw.api.key;
    ctx.warn(['api', 'key'], `is empty: ${noKey}`);
  } else if (typeof key === 'string' && API_KEY_PLACEHOLDER.test(key.trim())) {
    delete raw.api.key;
    ctx.warn(['api', 'key'], `is still the example placeholder \`${key.trim()}\`: ${noKey}`);
  } else if (typeof key === 'string' && expandString(key, env).missing.length > 0) {
    delete raw.api.key;
    ctx.warn(['api', 'key'], `refers to an environment variable that is not set: ${noKey}`);
  }
}

const LEGACY_MODES = [
  ['move_files', 'move'],
  ['create_symlinks', 'symlink'],
] as const;

/**
 * operation_mode precedence: the job's own `operation_mode` > the job's legacy
 * `move_files`/`create_symlinks: true` (move first, as the seed did) > `defaults.organization`
 * > `copy`. on_collision: job > defaults > `skip`. Legacy booleans are removed after use.
 */
function resolveOrganization(
  ctx: Context,
  org: Raw,
  segments: Segment[],
  defaults: { operation_mode?: string; on_collision?: string },
): void {
  const own = org.operation_mode;
  let legacyMode: string | undefined;
  for (const [key, mode] of LEGACY_MODES) {
    const value = org[key];
    if (typeof value !== 'boolean') continue; // absent, or a wrong type the schema will report
    const keyPath = [...segments, key];
    if (!value) {
      ctx.warn(keyPath, `is deprecated and has no effect when false; remove it (use \`operation_mode\`)`);
    } else if (own !== undefined) {
      ctx.warn(keyPath, `is deprecated and ignored because \`operation_mode: ${String(own)}\` is set; remove it`);
    } else if (legacyMode !== undefined) {
      ctx.warn(keyPath, `is deprecated and ignored because \`move_files: true\` is also set (move wins, as in CivitScraper)`);
    } else {
      legacyMode = mode;
      ctx.warn(keyPath, `is deprecated: it is read as \`operation_mode: ${mode}\`; write that instead`);
    }
    delete org[key];
  }
  if (own === undefined) org.operation_mode = legacyMode ?? defaults.operation_mode ?? 'copy';
  if (org.on_collision === undefined) org.on_collision = defaults.on_collision ?? 'skip';
}

function applyJobDefaults(ctx: Context, raw: Raw): void {
  if (!isPlainObject(raw.jobs)) return;
  const defaultsOrg = isPlainObject(raw.defaults) && isPlainObject(raw.defaults.organization) ? raw.defaults.organization : {};
  const mode = OperationModeSchema.safeParse(defaultsOrg.operation_mode);
  const collision = CollisionPolicySchema.safeParse(defaultsOrg.on_collision);
  const defaults = {
    ...(mode.success ? { operation_mode: mode.data } : {}),
    ...(collision.success ? { on_collision: collision.data } : {}),
  };
  const topOutput = isPlainObject(raw.output) ? raw.output : undefined;
  for (const [name, job] of Object.entries(raw.jobs)) {
    if (!isPlainObject(job) || job.type !== 'scan-paths') continue;
    if (job.organization === undefined) job.organization = {};
    if (isPlainObject(job.organization)) resolveOrganization(ctx, job.organization, ['jobs', name, 'organization'], defaults);
    if (topOutput) {
      if (job.output === undefined) job.output = structuredClone(topOutput);
      else if (isPlainObject(job.output)) job.output = deepMerge(topOutput, job.output);
    }
  }
}

function missingMessage(ctx: Context, segments: readonly Segment[], expected: string | undefined): string {
  const dotted = formatPath(segments);
  let message: string;
  if (dotted === 'input_paths') {
    message = 'missing — list the model folders to scan, e.g. `input_paths: { loras: { path: ~/models/Lora, type: LORA } }`';
  } else if (segments[0] === 'input_paths' && segments.length === 3 && segments[2] === 'path') {
    message = 'missing — every input path needs `path:`, the folder to scan';
  } else if (segments[0] === 'input_paths' && segments.length === 3 && segments[2] === 'type') {
    message = 'missing — every input path needs `type:`, a label such as LORA or Checkpoint';
  } else {
    message = `missing — expected ${expected ?? 'a value'}`;
  }
  const typo = ctx.typos.get(dotted);
  if (typo !== undefined) message += ` (found \`${typo}\` — a typo?)`;
  return message;
}

function friendlyMessage(ctx: Context, issue: z.core.$ZodIssue, raw: Raw, segments: Segment[]): string {
  const value = getAt(raw, segments);
  const present = hasAt(raw, segments);
  const schema = schemaAt(ConfigSchema, raw, segments);
  const expected = schema ? describeExpected(schema) : undefined;
  switch (issue.code) {
    case 'invalid_type':
      if (!present) return missingMessage(ctx, segments, expected);
      return `expected ${expected ?? issue.expected}, got ${describeValue(value)}`;
    case 'invalid_union': {
      if ('discriminator' in issue && issue.discriminator) {
        const parent = schemaAt(ConfigSchema, raw, segments.slice(0, -1));
        const allowed = (parent ? discriminatorOf(parent)?.values : undefined) ?? [];
        const what = segments[0] === 'jobs' ? 'job type' : 'value';
        if (!present) return `missing — every job needs \`type:\`, one of ${quoteList(allowed)}`;
        return `unknown ${what} ${describeValue(value)}; expected one of ${quoteList(allowed)}${
          typeof value === 'string' ? didYouMean(value, allowed) : ''
        }`;
      }
      if (!present) return missingMessage(ctx, segments, expected);
      return `expected ${expected ?? 'a valid value'}, got ${describeValue(value)}`;
    }
    case 'invalid_value': {
      const allowed = issue.values.map(String);
      if (!present) return missingMessage(ctx, segments, expected);
      const list = allowed.length === 1 ? `\`${allowed[0]}\`` : `one of ${quoteList(allowed)}`;
      return `expected ${list}, got ${describeValue(value)}${typeof value === 'string' ? didYouMean(value, allowed) : ''}`;
    }
    case 'invalid_format':
      return `expected ${expected ?? issue.format}, got ${describeValue(value)}`;
    case 'too_small':
    case 'too_big':
      if (issue.origin === 'string') return `must not be empty, got ${describeValue(value)}`;
      if (issue.origin === 'array' || issue.origin === 'set') return `needs at least one entry, got ${describeValue(value)}`;
      return `expected ${expected ?? 'a number in range'}, got ${describeValue(value)}`;
    default:
      return issue.message;
  }
}

/** Where relative paths are resolved and `~` points: needed to tell what `output_dir` names. */
interface Dirs {
  baseDir: string;
  homeDir: string;
}

type AddIssue = (segments: Segment[], message: string) => void;

/**
 * Templates and targets the schema cannot judge (config/templates.ts), on the validated config:
 * defaults filled in and the top-level `output` merged into each job. A problem is reported
 * where the value is written, in the job or in the top-level `output` it came from (once).
 */
function checkTemplates(ctx: Context, config: Config, preMerge: Raw, dirs: Dirs, add: AddIssue): void {
  const where = (job: string | undefined, rest: Segment[]): Segment[] => {
    if (job === undefined) return rest;
    const own: Segment[] = ['jobs', job, ...rest];
    if (!hasAt(preMerge, own) && rest[0] === 'output' && hasAt(preMerge, rest)) return rest;
    return own;
  };
  const checkOutput = (job: string | undefined, output: OutputConfig) => {
    const keys: Array<[Segment[], string, TemplateKind, string]> = [
      [['output', 'metadata', 'path'], output.metadata.path, 'sidecar-folder', 'metadata sidecars'],
      [['output', 'metadata', 'filename'], output.metadata.filename, 'sidecar-file', ''],
      [['output', 'images', 'path'], output.images.path, 'sidecar-folder', 'previews'],
      [['output', 'images', 'filenames', 'preview'], output.images.filenames.preview, 'preview-file', ''],
    ];
    for (const [rest, value, kind, what] of keys) {
      const at = where(job, rest);
      const problems = checkTemplate(value, kind);
      for (const problem of problems) add(at, problem);
      if (problems.length > 0 || kind !== 'sidecar-folder') continue;
      if (output.base_dir !== undefined) {
        if (value !== '{model_dir}') {
          ctx.warn(at, `has no effect: with \`output.base_dir\` set, the ${what} go to <base_dir>/<input path id>/<folder> (you can delete this line)`);
        }
      } else if (!isInModelDir(value)) {
        // Refused rather than quietly given the base_dir layout: the user wrote one folder, and
        // putting files anywhere else than written would surprise them just as much. base_dir
        // is the seed's own key for "one central folder" and lays files out without collisions
        // (<base_dir>/<input path id>/<folder below it>/, see sidecars/paths.ts).
        const central = value.split('{')[0]?.replace(/[/\\]+$/, '') || value;
        add(
          at,
          `is outside the model's folder: without \`output.base_dir\`, the ${what} of every model would go into this one folder, where models with the same file name overwrite each other's. Set \`output.base_dir: ${central}\` instead (one subfolder per input path and folder, so names never collide), or start the path with \`{model_dir}\``,
        );
      }
    }
  };
  const checkOrganization = (job: string, organization: ScanJob['organization']) => {
    const custom = organization.custom_template;
    if (custom !== undefined && custom.trim() !== '') {
      for (const problem of checkTemplate(custom, 'organization')) add(where(job, ['organization', 'custom_template']), problem);
    }
    const at = where(job, ['organization', 'output_dir']);
    const problems = checkTemplate(organization.output_dir, 'output-dir');
    for (const problem of problems) add(at, problem);
    if (problems.length > 0) return;
    const root = rootLikeTarget(organization.output_dir, resolvePathValue(organization.output_dir, dirs.baseDir, dirs.homeDir), dirs.homeDir);
    if (root) {
      add(at, `is ${root}: organizing there would sort the files into new folders at its top level; choose a folder of its own, e.g. \`~/models/organized\` or \`{model_dir}/organized\``);
    }
  };
  const jobs = Object.entries(config.jobs).filter((entry): entry is [string, ScanJob] => entry[1].type === 'scan-paths');
  for (const [name, job] of jobs) {
    checkOutput(name, job.output);
    checkOrganization(name, job.organization);
  }
  // Without jobs, the top-level `output` is the default job's.
  if (Object.keys(config.jobs).length === 0 && config.output) checkOutput(undefined, config.output);
}

function validate(ctx: Context, raw: Raw, preMerge: Raw, dirs: Dirs): { config?: Config; issues: ConfigIssue[] } {
  // Parsed once per process: compiling zod's fast path for every object costs more than it saves.
  const result = ConfigSchema.safeParse(raw, { jitless: true });
  const issues: ConfigIssue[] = [];
  const add = (segments: Segment[], message: string) => {
    const line = ctx.locator.line(segments);
    issues.push({ path: formatPath(segments), message, ...(line === undefined ? {} : { line }) });
  };
  if (!result.success) {
    for (const issue of result.error.issues) {
      const segments = issue.path.filter((segment): segment is Segment => typeof segment !== 'symbol');
      const message = friendlyMessage(ctx, issue, raw, segments);
      // A problem in a value a job inherited from the top-level `output` is reported there.
      let reported = segments;
      if (segments[0] === 'jobs' && segments[2] === 'output' && !hasAt(preMerge, segments)) {
        const top = ['output', ...segments.slice(3)];
        if (hasAt(preMerge, top)) reported = top;
      }
      add(reported, message);
    }
  }

  // References the schema cannot check: job `paths` and `default_job`.
  const inputIds = isPlainObject(raw.input_paths) ? Object.keys(raw.input_paths) : undefined;
  const jobNames = isPlainObject(raw.jobs) ? Object.keys(raw.jobs) : [];
  if (inputIds && inputIds.length > 0 && isPlainObject(raw.jobs)) {
    for (const [name, job] of Object.entries(raw.jobs)) {
      if (!isPlainObject(job) || !Array.isArray(job.paths)) continue;
      job.paths.forEach((id, index) => {
        if (typeof id !== 'string' || inputIds.includes(id)) return;
        add(
          ['jobs', name, 'paths', index],
          `unknown input path ${describeValue(id)}; known input path ids: ${quoteList(inputIds)}${didYouMean(id, inputIds)}`,
        );
      });
    }
  }
  if (typeof raw.default_job === 'string' && !jobNames.includes(raw.default_job)) {
    add(
      ['default_job'],
      jobNames.length > 0
        ? `names the job ${describeValue(raw.default_job)}, which is not defined; known jobs: ${quoteList(jobNames)}${didYouMean(raw.default_job, jobNames)}`
        : `names the job ${describeValue(raw.default_job)}, but the file defines no jobs (add a \`jobs:\` section, or remove \`default_job\` to scan every input path)`,
    );
  }

  if (result.success) checkTemplates(ctx, result.data, preMerge, dirs, add);

  const unique = new Map<string, ConfigIssue>();
  for (const issue of issues) unique.set(`${issue.path}\u0000${issue.message}`, issue);
  const sorted = [...unique.values()].sort(
    (a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER),
  );
  return result.success && sorted.length === 0 ? { config: result.data, issues: [] } : { issues: sorted };
}

function resolvePaths(config: Config, baseDir: string, homeDir: string): void {
  const resolve = (value: string) => resolvePathValue(value, baseDir, homeDir);
  const resolveOutput = (output: OutputConfig | undefined) => {
    if (!output) return;
    if (output.base_dir !== undefined) output.base_dir = resolve(output.base_dir);
    output.metadata.path = resolve(output.metadata.path);
    output.metadata.html.path = resolve(output.metadata.html.path);
    if (output.metadata.html.gallery_path !== undefined) {
      output.metadata.html.gallery_path = resolve(output.metadata.html.gallery_path);
    }
    output.images.path = resolve(output.images.path);
  };
  for (const input of Object.values(config.input_paths)) input.path = resolve(input.path);
  resolveOutput(config.output);
  config.scanner.cache_dir = resolve(config.scanner.cache_dir);
  if (config.sources.archive_db.path !== undefined) config.sources.archive_db.path = resolve(config.sources.archive_db.path);
  if (config.site.curation !== undefined) config.site.curation = resolve(config.site.curation);
  config.logging.file.directory = resolve(config.logging.file.directory);
  for (const job of Object.values(config.jobs)) {
    if (job.type === 'scan-paths') {
      resolveOutput(job.output);
      job.organization.output_dir = resolve(job.organization.output_dir);
    } else if (job.loras_file !== undefined) {
      job.loras_file = resolve(job.loras_file);
    }
  }
}

function invalid(file: string, issues: ConfigIssue[], warnings: readonly string[] = []): ConfigError {
  const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
  // A misspelt key is often why a value is missing: show the warnings with the errors.
  const noted = warnings.length > 0 ? `\nAlso noted:\n${warnings.map((warning) => `  - ${warning}`).join('\n')}` : '';
  return new ConfigError('CONFIG_INVALID', `${formatIssueBlock(`Invalid config in ${file} (${count}):`, issues)}${noted}`, {
    file,
    issues,
  });
}

/**
 * Validates config text. `file` names it in messages and anchors relative paths (resolved
 * against cwd when relative). Throws `ConfigError` (CONFIG_YAML or CONFIG_INVALID).
 */
export function parseConfig(text: string, file: string, options: ParseConfigOptions = {}): LoadedConfig {
  const { cwd, env, homeDir } = resolveOptions(options);
  const absFile = path.resolve(cwd, file);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text.replace(/^\uFEFF/, ''), {
    lineCounter,
    version: '1.1',
    merge: true,
    uniqueKeys: false,
    prettyErrors: false,
  });

  if (doc.errors.length > 0) {
    const issues: ConfigIssue[] = doc.errors.map((error) => {
      const position = lineCounter.linePos(error.pos[0]);
      const message = (error.message.split('\n')[0] ?? error.message).replace(/ at line \d+, column \d+:?$/, '');
      const hint = error.code === 'TAB_AS_INDENT' ? ' (indent with spaces)' : '';
      return { path: '', message: `${message}${hint}`, line: position.line, column: position.col };
    });
    throw new ConfigError('CONFIG_YAML', formatIssueBlock(`Could not read ${absFile}: it is not valid YAML`, issues), {
      file: absFile,
      issues,
    });
  }

  const ctx = new Context(absFile, new Locator(doc, lineCounter));
  for (const warning of doc.warnings) {
    const position = lineCounter.linePos(warning.pos[0]);
    ctx.warnings.push(`line ${position.line}: ${warning.message.split('\n')[0] ?? warning.message}`);
  }

  if (doc.contents === null || doc.contents === undefined) {
    throw invalid(absFile, [
      {
        path: 'input_paths',
        message:
          'the file is empty (or only has comments) — a config needs at least `input_paths`, e.g. `input_paths: { loras: { path: ~/models/Lora, type: LORA } }`',
      },
    ]);
  }
  const raw: unknown = doc.toJS();
  if (!isPlainObject(raw)) {
    throw invalid(absFile, [
      {
        path: '',
        message: `expected a mapping of sections (\`api:\`, \`input_paths:\`, \`jobs:\` …), got ${describeValue(raw)}`,
        line: 1,
      },
    ]);
  }

  for (const { segments, lines } of ctx.locator.duplicates()) {
    ctx.warnings.push(
      `${formatPath(segments)} (lines ${lines.join(', ')}): the key appears ${lines.length} times; the last one wins`,
    );
  }
  const remove: Segment[][] = [];
  checkKeys(ctx, ConfigSchema, raw, [], remove);
  for (const segments of remove) deleteAt(raw, segments);
  dropNulls(ctx, ConfigSchema, raw, []);

  const report = { warnings: ctx.warnings, changedPaths: [] as Segment[][], where: (at: Segment[]) => ctx.where(at) };
  expandEnvInPlace(raw, env, report);
  coerceExpanded(raw, report.changedPaths);
  applyApiKey(ctx, raw, env);

  const preMerge = structuredClone(raw);
  applyJobDefaults(ctx, raw);

  const { config, issues } = validate(ctx, raw, preMerge, { baseDir: path.dirname(absFile), homeDir });
  const warnings = uniqueWarnings(ctx.warnings);
  if (!config) throw invalid(absFile, issues, warnings);
  resolvePaths(config, path.dirname(absFile), homeDir);
  return { config, file: absFile, warnings };
}

/**
 * Each finding once. A mapping shared through a YAML anchor (`<<: *common`) is checked once per
 * place it is merged into, so the same key on the same line would be reported for every job.
 */
function uniqueWarnings(warnings: readonly string[]): string[] {
  const seen = new Set<string>();
  return warnings.filter((warning) => {
    const match = /^(.*?) \(line (\d+)\): ([\s\S]*)$/.exec(warning);
    const key = match ? `${match[1]?.split(/[.[]/).pop()}\u0000${match[2]}\u0000${match[3]}` : warning;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** A copy safe for logs and reports: the API key (wherever it appears) becomes `***`. */
export function redactConfig(config: Config): unknown {
  const copy = structuredClone(config);
  const key = copy.api.key;
  if (key === undefined || key === '') return copy;
  const scrub = (value: unknown): unknown => {
    if (typeof value === 'string') return value.split(key).join('***');
    if (Array.isArray(value)) return value.map(scrub);
    if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrub(v)]));
    return value;
  };
  const result = scrub(copy) as Config;
  result.api.key = '***';
  return result;
}
