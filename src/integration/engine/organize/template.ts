/**
 * Folder templates of the seed's `organization` block, with the seed's bugs fixed:
 * - `{creator}` comes from the parent model (`record.model.creator`), not from the by-hash body
 *   that never has one;
 * - `{model_name}` is the model's name (the seed used the version name: `v1.0`); the version name
 *   is `{version_name}`;
 * - `{nsfw}` also looks at `nsfwLevel`, not only the `model.nsfw` boolean;
 * - ratings render as `rating_4.5`, not `rating_ 4.5` (the seed's `" .1f"` format);
 * - values are substituted in one pass, so a value containing `{type}` is not substituted again,
 *   and a value containing `/` or `..` cannot create or climb folders.
 * The rating formulas are the seed's, including Python's round-half-to-even (see `roundHalfStep`).
 */
import { ORGANIZATION_TEMPLATES, type OrganizationConfig } from '../config/schema.ts';
import { ORGANIZATION_PLACEHOLDERS } from '../config/templates.ts';
import type { ModelRecord } from '../records/schema.ts';
import { sanitizeSegment } from './sanitize.ts';

export interface TemplateOptions {
  /** A version counts as NSFW when its nsfwLevel bitmask is >= this (config `api.nsfw.level_threshold`). */
  nsfwThreshold?: number;
}

export const DEFAULT_NSFW_THRESHOLD = 4;

/** Every placeholder of organization templates (the list the config loader checks against). */
export const PLACEHOLDERS = ORGANIZATION_PLACEHOLDERS;
export type Placeholder = (typeof PLACEHOLDERS)[number];

const UNKNOWN = 'Unknown';

/** The template an `organization` block asks for: a non-empty `custom_template` wins, as in the seed. */
export function effectiveTemplate(organization: Pick<OrganizationConfig, 'template' | 'custom_template'>): string {
  const custom = organization.custom_template?.trim();
  if (custom) return custom;
  return ORGANIZATION_TEMPLATES[organization.template] ?? ORGANIZATION_TEMPLATES.by_type;
}

/**
 * Python's `round(x * 2) / 2`: nearest half step, ties to the even half step (`round()` is
 * banker's rounding: 2.25 → 2.0, 2.75 → 3.0, 3.25 → 3.0), where JS `Math.round` would round ties
 * up. `x * 2` is exact in binary floating point, so this matches the seed bit for bit.
 */
export function roundHalfStep(value: number): number {
  const doubled = value * 2;
  const floor = Math.floor(doubled);
  const diff = doubled - floor;
  let rounded: number;
  if (diff > 0.5) rounded = floor + 1;
  else if (diff < 0.5) rounded = floor;
  else rounded = floor % 2 === 0 ? floor : floor + 1;
  return rounded / 2;
}

const clamp = (value: number, low: number, high: number) => Math.min(high, Math.max(low, value));
const num = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : 0);

export interface RatingStats {
  rating?: number | null;
  ratingCount?: number | null;
  downloadCount?: number | null;
  thumbsUpCount?: number | null;
}

/** `{rating}`: the star rating to the nearest half, clamped to 1–5. */
export function rawRating(stats: RatingStats | undefined): number {
  return clamp(roundHalfStep(num(stats?.rating)), 1, 5);
}

/**
 * `{weighted_rating}`: pulls the star rating towards 3 when few downloaders rated it. No ratings →
 * 1.0 (the seed's value; CivitAI now reports `rating: 0, ratingCount: 0` for most versions).
 */
export function weightedRating(stats: RatingStats | undefined): number {
  const ratingCount = num(stats?.ratingCount);
  if (ratingCount === 0) return 1;
  const confidence = Math.min((ratingCount / Math.max(num(stats?.downloadCount), 1)) * 5, 1);
  const weighted = 3 + (num(stats?.rating) - 3) * confidence;
  return roundHalfStep(clamp(weighted, 1, 5));
}

/** `{weighted_thumbsup}`: 1 + 4 × min(5 × thumbs-up / downloads, 1), to the nearest half. */
export function weightedThumbsUp(stats: RatingStats | undefined): number {
  const downloads = num(stats?.downloadCount);
  if (downloads === 0) return 1;
  return roundHalfStep(1 + Math.min((num(stats?.thumbsUpCount) / downloads) * 5, 1) * 4);
}

function statsOf(record: ModelRecord): RatingStats | undefined {
  const version = record.version;
  if (version?.stats) return version.stats;
  const sibling = record.model?.modelVersions?.find((entry) => entry.id === version?.id);
  return sibling?.stats ?? undefined;
}

function isNsfw(record: ModelRecord, threshold: number): boolean {
  const { version, model } = record;
  if (version?.model?.nsfw || model?.nsfw) return true;
  const level = typeof version?.nsfwLevel === 'number' ? version.nsfwLevel : model?.nsfwLevel;
  return typeof level === 'number' && level >= threshold;
}

const text = (value: unknown) => (typeof value === 'string' && value.trim() !== '' ? value : undefined);

const count = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? String(Math.trunc(value)) : undefined);

/**
 * Every placeholder's raw (unsanitized) value for one record; undefined where CivitAI gave
 * nothing (`{name|default}` then gives the default, a plain `{name}` gives `Unknown`).
 */
export function knownPlaceholderValues(record: ModelRecord, options: TemplateOptions = {}): Record<Placeholder, string | undefined> {
  const { version, model } = record;
  const created = text(version?.createdAt) ?? text(version?.publishedAt) ?? '';
  const type = text(model?.type) ?? text(version?.model?.type);
  const stats = statsOf(record);
  const id = (value: unknown) => (typeof value === 'number' || (typeof value === 'string' && value !== '') ? String(value) : undefined);
  return {
    model_name: text(model?.name) ?? text(version?.model?.name) ?? text(version?.name) ?? record.file.stem,
    model_type: type,
    type,
    creator: text(model?.creator?.username),
    base_model: text(version?.baseModel),
    nsfw: isNsfw(record, options.nsfwThreshold ?? DEFAULT_NSFW_THRESHOLD) ? 'nsfw' : 'sfw',
    year: text(created.slice(0, 4)),
    month: text(created.slice(5, 7)),
    day: text(created.slice(8, 10)),
    rating: `rating_${rawRating(stats).toFixed(1)}`,
    weighted_rating: `rating_${weightedRating(stats).toFixed(1)}`,
    weighted_thumbsup: `thumbs_${weightedThumbsUp(stats).toFixed(1)}`,
    // The seed documented these three (CONFIGURATION.md) but never implemented them.
    rating_count: count(stats?.ratingCount),
    download_count: count(stats?.downloadCount),
    thumbs_up_count: count(stats?.thumbsUpCount),
    version_name: text(version?.name),
    model_id: id(version?.modelId ?? model?.id),
    version_id: id(version?.id),
  };
}

/** Every placeholder's raw (unsanitized) value for one record, `Unknown` where CivitAI gave nothing. */
export function placeholderValues(record: ModelRecord, options: TemplateOptions = {}): Record<Placeholder, string> {
  const values = knownPlaceholderValues(record, options);
  return Object.fromEntries(Object.entries(values).map(([name, value]) => [name, value ?? UNKNOWN])) as Record<Placeholder, string>;
}

/**
 * Placeholders in a template that we do not know. The config loader refuses them; a template
 * given to the engine directly keeps them in the path verbatim, as the seed did.
 */
export function unknownPlaceholders(template: string): string[] {
  const known = new Set<string>(PLACEHOLDERS);
  return [...template.matchAll(/\{([^{}|]*)(?:\|[^{}]*)?\}/g)].map((match) => match[1] ?? '').filter((name) => !known.has(name));
}

/**
 * The folders (sanitized path segments, outermost first) a template gives for a record.
 * `{name|default}` gives the default when CivitAI has no value (an empty default drops the
 * level). Empty segments and `.`/`..` written in the template are dropped; values and defaults
 * are sanitized before they are inserted, so they can never add a level or climb out of the
 * organized tree.
 */
export function renderTemplate(template: string, record: ModelRecord, options: TemplateOptions = {}): string[] {
  const values = knownPlaceholderValues(record, options);
  const rendered = template.replace(/\{([a-z_]+)(?:\|([^{}]*))?\}/g, (match, name: string, fallback: string | undefined) => {
    if (!Object.hasOwn(values, name)) return match;
    const value = values[name as Placeholder] ?? fallback ?? UNKNOWN;
    return value === '' ? '' : sanitizeSegment(value);
  });
  return rendered
    .split(/[/\\]+/)
    .filter((segment) => segment.trim() !== '' && segment !== '.' && segment !== '..')
    .map((segment) => sanitizeSegment(segment));
}
