/**
 * What a model page shows of a safetensors header's `__metadata__` (kohya `ss_*` keys and
 * `modelspec.*`): the training setup and the most frequent training tags. For files CivitAI does
 * not know it is the only description there is.
 *
 * `summarizeTraining` keeps a record small (a large dataset's `ss_tag_frequency` runs to hundreds
 * of KB); the engine can store its result on the record as `training`.
 */
import { z } from 'zod';

export const TrainingSummarySchema = z.object({
  title: z.string().optional(),
  author: z.string().optional(),
  description: z.string().optional(),
  architecture: z.string().optional(),
  /** `ss_base_model_version` / `ss_sd_model_name`. */
  baseModel: z.string().optional(),
  networkModule: z.string().optional(),
  dim: z.string().optional(),
  alpha: z.string().optional(),
  epochs: z.string().optional(),
  steps: z.string().optional(),
  resolution: z.string().optional(),
  /** ISO date the training started (or `modelspec.date`). */
  trainedAt: z.string().optional(),
  /** Images in the dataset (`ss_num_train_images`). */
  images: z.number().optional(),
  /** Most frequent tags over all dataset folders, most frequent first. */
  tags: z.array(z.object({ tag: z.string(), count: z.number() })).default([]),
  /** Distinct tags in the dataset. */
  tagCount: z.number().default(0),
});
export type TrainingSummary = z.infer<typeof TrainingSummarySchema>;

export const TOP_TAGS = 40;

export function summarizeTraining(metadata: Record<string, string> | undefined, top = TOP_TAGS): TrainingSummary | undefined {
  if (!metadata || Object.keys(metadata).length === 0) return undefined;
  const text = (key: string): string | undefined => {
    const value = metadata[key]?.trim();
    return value && value !== 'None' ? value : undefined;
  };
  const frequency = new Map<string, number>();
  const raw = text('ss_tag_frequency');
  if (raw) {
    try {
      const folders = JSON.parse(raw) as unknown;
      if (folders && typeof folders === 'object') {
        for (const tags of Object.values(folders as Record<string, unknown>)) {
          if (!tags || typeof tags !== 'object') continue;
          for (const [tag, count] of Object.entries(tags as Record<string, unknown>)) {
            const name = tag.trim();
            if (name && typeof count === 'number' && Number.isFinite(count)) frequency.set(name, (frequency.get(name) ?? 0) + count);
          }
        }
      }
    } catch {
      // Not JSON: show the rest of the metadata.
    }
  }
  const tags = [...frequency.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, top)
    .map(([tag, count]) => ({ tag, count }));
  const started = Number(text('ss_training_started_at'));
  const trainedAt = Number.isFinite(started) && started > 0 ? new Date(started * 1000).toISOString() : text('modelspec.date');
  const images = Number(text('ss_num_train_images'));
  const summary: TrainingSummary = {
    ...defined({
      title: text('modelspec.title') ?? text('ss_output_name'),
      author: text('modelspec.author'),
      description: text('modelspec.description'),
      architecture: text('modelspec.architecture'),
      baseModel: text('ss_base_model_version') ?? text('ss_sd_model_name'),
      networkModule: text('ss_network_module'),
      dim: text('ss_network_dim'),
      alpha: text('ss_network_alpha'),
      epochs: text('ss_num_epochs') ?? text('ss_epoch'),
      steps: text('ss_max_train_steps') ?? text('ss_steps'),
      resolution: text('ss_resolution') ?? text('modelspec.resolution'),
      trainedAt,
    }),
    ...(Number.isFinite(images) && images > 0 ? { images } : {}),
    tags,
    tagCount: frequency.size,
  };
  const { tags: _tags, tagCount: _count, ...rest } = summary;
  return Object.keys(rest).length > 0 || tags.length > 0 ? summary : undefined;
}

/**
 * The summary a record carries, if any. Read defensively: the field is optional and written by
 * the engine (`record.training`).
 */
export function trainingOf(record: object): TrainingSummary | undefined {
  const value = (record as { training?: unknown }).training;
  if (value === undefined) return undefined;
  const parsed = TrainingSummarySchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

function defined<T extends Record<string, string | undefined>>(values: T): Partial<Record<keyof T, string>> {
  return Object.fromEntries(Object.entries(values).filter((entry) => entry[1] !== undefined)) as Partial<Record<keyof T, string>>;
}
