/** Options of `civitscraper()` in astro.config.mjs, checked before anything runs. */
import { AstroError } from 'astro/errors';
import { z } from 'zod';

const basePath = z
  .string()
  .refine((value) => value.startsWith('/') && !value.includes('..') && !/[?#\\]/.test(value), {
    message: 'must be a path on the site that starts with "/", e.g. "/" or "/models/"',
  })
  .transform((value) => (value.endsWith('/') ? value : `${value}/`));

export const CivitscraperOptionsSchema = z
  .object({
    /** The CivitScraper YAML; else CIVITSCRAPER_CONFIG, else the usual places (README). */
    config: z.string().min(1).optional(),
    /** The scan job the site is made from; else `default_job`, else every scan job. */
    job: z.string().min(1).optional(),
    /** Where the gallery lives on the site: `/` (its home page), or e.g. `/models/` beside your own pages. */
    base: basePath.default('/'),
    /** `false`: no pages are added; the entries are there for your own pages (civitscraperLoader()). */
    pages: z.boolean().default(true),
    /**
     * The gallery's own pages get relative URLs after the build, so its folder works from disk
     * (file://) and under any path. Your other pages are never touched.
     */
    relativeUrls: z.boolean().default(true),
    /**
     * `true`: V8's `--optimize-for-size` for the whole `astro build` process (at 10,000 models
     * peak memory 0.86 GB instead of 1.5 GB; the build about a third slower). `'auto'`: only
     * when the library has LOW_MEMORY_FROM models or more (set once the scan has counted them).
     * Off by default because it changes the process your other integrations run in too.
     */
    lowMemoryBuild: z.union([z.boolean(), z.literal('auto')]).default(false),
    /**
     * A file exported from the gallery ("Your data" → Export): its favourites, hidden models,
     * tags, notes and weights are baked into the pages. Relative to the project root; overrides
     * `site.curation` of the CivitScraper config.
     */
    curation: z.string().min(1).optional(),
  })
  .strict();

export type CivitscraperUserOptions = z.input<typeof CivitscraperOptionsSchema>;
export type CivitscraperOptions = z.output<typeof CivitscraperOptionsSchema>;

export function parseOptions(input: unknown): CivitscraperOptions {
  const parsed = CivitscraperOptionsSchema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => {
    const key = issue.path.join('.') || '(options)';
    if (issue.code === 'unrecognized_keys') return `unknown option ${issue.keys.map((k) => `\`${k}\``).join(', ')}`;
    return `\`${key}\`: ${issue.message}`;
  });
  const error = new AstroError(
    `Invalid civitscraper() options in astro.config.mjs:\n  ${lines.join('\n  ')}`,
    `The options are ${Object.keys(CivitscraperOptionsSchema.shape).map((k) => `\`${k}\``).join(', ')}; see "Add the gallery to your Astro site" in the civitscraper-astro README.`,
  );
  // The message names the key; a stack trace into this package would only bury it.
  error.stack = '';
  throw error;
}

/**
 * From this many models `lowMemoryBuild: 'auto'` favours memory: below it the build's peak stays
 * well under 1 GB (640 MB at 5,000 models), and the flag would cost a third of a warm build.
 */
export const LOW_MEMORY_FROM = 10_000;

/**
 * V8 flags the integration sets for this command (only `lowMemoryBuild`, only while building);
 * `models`: how many the scan found, once known (`'auto'` decides then).
 */
export function v8FlagsFor(command: string, options: Pick<CivitscraperOptions, 'lowMemoryBuild'>, models?: number): string[] {
  if (command !== 'build') return [];
  const on = options.lowMemoryBuild === 'auto' ? models !== undefined && models >= LOW_MEMORY_FROM : options.lowMemoryBuild;
  return on ? ['--optimize-for-size'] : [];
}
