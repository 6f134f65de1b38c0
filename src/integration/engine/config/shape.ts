/**
 * Walks the zod config schema to answer the questions friendly errors need: which keys exist
 * at a place in the file (unknown-key warnings, "did you mean"), and what a value there should
 * look like ("expected a whole number ≥ 0"). The schema stays the single source of truth.
 */
import type { z } from 'zod';
import { quoteList } from './errors.ts';

type Schema = z.core.$ZodType;
type Segment = string | number;

interface Def {
  type: string;
  innerType?: Schema;
  in?: Schema;
  out?: Schema;
  shape?: Record<string, Schema>;
  valueType?: Schema;
  element?: Schema;
  options?: Schema[];
  discriminator?: string;
  entries?: Record<string, string | number>;
  values?: unknown[];
  checks?: { _zod: { def: CheckDef } }[];
  format?: string;
}

interface CheckDef {
  check?: string;
  format?: string;
  value?: unknown;
  inclusive?: boolean;
  minimum?: number;
  maximum?: number;
}

const WRAPPERS = new Set(['default', 'prefault', 'optional', 'nullable', 'readonly', 'catch', 'nonoptional']);

function def(schema: Schema): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** Strips default/optional/… wrappers; for a pipe, follows its input side. */
export function unwrap(schema: Schema): Schema {
  let current = schema;
  for (;;) {
    const d = def(current);
    if (WRAPPERS.has(d.type) && d.innerType) current = d.innerType;
    else if (d.type === 'pipe' && d.in) current = d.in;
    else return current;
  }
}

/** True when the key may be left out (it has a default or is optional). */
export function isOmittable(schema: Schema): boolean {
  const type = def(schema).type;
  return type === 'default' || type === 'prefault' || type === 'optional';
}

/** For a discriminated union, the option matching `value[discriminator]`. */
function pickOption(schema: Schema, value: unknown): Schema | undefined {
  const d = def(schema);
  if (!d.discriminator || !d.options || !isPlainObject(value)) return undefined;
  const tag = value[d.discriminator];
  return d.options.find((option) => {
    const field = def(option).shape?.[d.discriminator as string];
    return field !== undefined && (def(unwrap(field)).values ?? []).includes(tag);
  });
}

export function discriminatorOf(schema: Schema): { key: string; values: string[] } | undefined {
  const d = def(unwrap(schema));
  if (d.type !== 'union' || !d.discriminator || !d.options) return undefined;
  const key = d.discriminator;
  const values = d.options.flatMap((option) => {
    const field = def(option).shape?.[key];
    return field === undefined ? [] : (def(unwrap(field)).values ?? []).map(String);
  });
  return { key, values };
}

/** The child schema for one key/index, given the data found at this level. */
export function childSchema(schema: Schema, value: unknown, segment: Segment): Schema | undefined {
  let core = unwrap(schema);
  const union = def(core);
  if (union.type === 'union' && union.discriminator) {
    const option = pickOption(core, value);
    if (!option) return undefined;
    core = unwrap(option);
  }
  const d = def(core);
  if (d.type === 'object' && typeof segment === 'string') return d.shape?.[segment];
  if (d.type === 'record') return d.valueType;
  if (d.type === 'array' && typeof segment === 'number') return d.element;
  return undefined;
}

/** The schema at `path` inside `root`, navigating with the matching data. */
export function schemaAt(root: Schema, data: unknown, path: readonly Segment[]): Schema | undefined {
  let schema: Schema | undefined = root;
  let value: unknown = data;
  for (const segment of path) {
    if (!schema) return undefined;
    schema = childSchema(schema, value, segment);
    value = isPlainObject(value) || Array.isArray(value) ? (value as Record<string, unknown>)[segment] : undefined;
  }
  return schema;
}

/** Known keys of the object schema at this level (after choosing a union option), if any. */
export function objectKeys(schema: Schema, value: unknown): string[] | undefined {
  let core = unwrap(schema);
  if (def(core).type === 'union' && def(core).discriminator) {
    const option = pickOption(core, value);
    if (!option) return undefined;
    core = unwrap(option);
  }
  const d = def(core);
  return d.type === 'object' && d.shape ? Object.keys(d.shape) : undefined;
}

export function kindOf(schema: Schema): string {
  const core = describeCore(schema);
  return def(core).type;
}

/** Like unwrap, but a pipe whose output is an enum/literal is described by that output. */
function describeCore(schema: Schema): Schema {
  let current = schema;
  for (;;) {
    const d = def(current);
    if (WRAPPERS.has(d.type) && d.innerType) current = d.innerType;
    else if (d.type === 'pipe' && d.in && d.out) {
      const out = describeCore(d.out);
      const outType = def(out).type;
      if (outType === 'enum' || outType === 'literal') return out;
      current = d.in;
    } else return current;
  }
}

export function enumValues(schema: Schema): string[] | undefined {
  const d = def(describeCore(schema));
  if (d.type === 'enum' && d.entries) return Object.values(d.entries).map(String);
  if (d.type === 'literal' && d.values) return d.values.map(String);
  return undefined;
}

function numberBounds(checks: CheckDef[], isInt: boolean): string {
  const parts: string[] = [];
  for (const check of checks) {
    if (typeof check.value !== 'number') continue;
    if (check.check === 'greater_than') {
      if (check.inclusive) parts.push(`≥ ${check.value}`);
      else parts.push(isInt ? `≥ ${check.value + 1}` : `> ${check.value}`);
    } else if (check.check === 'less_than') {
      if (check.inclusive) parts.push(`≤ ${check.value}`);
      else parts.push(isInt ? `≤ ${check.value - 1}` : `< ${check.value}`);
    }
  }
  return parts.length > 0 ? ` ${parts.join(' and ')}` : '';
}

/** "a whole number ≥ 0", "true or false", "one of `copy`, `move`", … */
export function describeExpected(schema: Schema): string {
  const core = describeCore(schema);
  const d = def(core);
  const checks = (d.checks ?? []).map((check) => check._zod.def);
  switch (d.type) {
    case 'number': {
      const isInt = checks.some((check) => check.check === 'number_format' && /int/.test(check.format ?? ''));
      return `${isInt ? 'a whole number' : 'a number'}${numberBounds(checks, isInt)}`;
    }
    case 'boolean':
      return 'true or false';
    case 'string': {
      if (d.format === 'url') return 'an http(s) URL such as `https://civitai.com/api/v1`';
      const nonEmpty = checks.some((check) => check.check === 'min_length' && (check.minimum ?? 0) > 0);
      return nonEmpty ? 'non-empty text' : 'text';
    }
    case 'enum':
    case 'literal': {
      const values = enumValues(core) ?? [];
      return values.length === 1 ? `\`${values[0]}\`` : `one of ${quoteList(values)}`;
    }
    case 'array': {
      const element = d.element ? describeExpected(d.element) : 'values';
      return element === 'non-empty text' || element === 'text' ? 'a list of names, e.g. [loras, checkpoints]' : 'a list';
    }
    case 'object':
      return 'a mapping (indented `key: value` lines)';
    case 'record':
      return 'a mapping of names to settings';
    case 'union': {
      const tagged = discriminatorOf(core);
      if (tagged) return `a mapping with \`${tagged.key}:\` set to one of ${quoteList(tagged.values)}`;
      const options = (d.options ?? []).map((option) => kindOf(option));
      if (options.includes('string') && options.includes('array')) return 'a glob pattern such as `*.safetensors`, or a list of them';
      return [...new Set((d.options ?? []).map((option) => describeExpected(option)))].join(' or ');
    }
    default:
      return 'a valid value';
  }
}
