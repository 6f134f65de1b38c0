import type { ModelVersion, VersionImage } from '../civitai/schemas.ts';

/**
 * CivitAI's content levels, lowest first: the name the config uses, the bit CivitAI gives it
 * (an `nsfwLevel` or `browsingLevel` is a mask of these bits), and the label people see.
 */
export const NSFW_LEVELS = [
  { name: 'PG', value: 1, label: 'PG' },
  { name: 'PG13', value: 2, label: 'PG-13' },
  { name: 'R', value: 4, label: 'R' },
  { name: 'X', value: 8, label: 'X' },
  { name: 'XXX', value: 16, label: 'XXX' },
] as const;

export type NsfwLevelName = (typeof NSFW_LEVELS)[number]['name'];

export const NSFW_LEVEL_NAMES: readonly NsfwLevelName[] = NSFW_LEVELS.map((level) => level.name);

export const NSFW_LEVEL_VALUES = Object.fromEntries(NSFW_LEVELS.map((level) => [level.name, level.value])) as Record<NsfwLevelName, number>;

const LEGACY_STRING_LEVELS: Record<string, number> = { none: 1, soft: 2, mature: 4, x: 8, blocked: 32 };

/**
 * The level of one image as a single bit value. `/images` items carry the old string form
 * (`None|Soft|Mature|X`) plus a numeric `browsingLevel`; 2022-era items only a boolean `nsfw`.
 */
export function imageNsfwLevel(image: VersionImage): number {
  if (typeof image.nsfwLevel === 'number' && image.nsfwLevel > 0) return highestBit(image.nsfwLevel);
  if (typeof image.browsingLevel === 'number' && image.browsingLevel > 0) return highestBit(image.browsingLevel);
  if (typeof image.nsfwLevel === 'string') {
    const level = LEGACY_STRING_LEVELS[image.nsfwLevel.toLowerCase()];
    if (level) return level;
  }
  if (typeof image.nsfw === 'string') return LEGACY_STRING_LEVELS[image.nsfw.toLowerCase()] ?? 1;
  if (image.nsfw === true) return NSFW_LEVEL_VALUES.R;
  return NSFW_LEVEL_VALUES.PG;
}

function highestBit(value: number): number {
  let bit = 1;
  while (bit * 2 <= value) bit *= 2;
  return bit;
}

/** The seed's rule: NSFW when the model says so or the version's level reaches the threshold. */
export function isNsfwVersion(version: ModelVersion, threshold: number): boolean {
  if (version.model?.nsfw) return true;
  return typeof version.nsfwLevel === 'number' && version.nsfwLevel >= threshold;
}
