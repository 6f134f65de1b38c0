import { defineCollection } from 'astro:content';
import { civitscraperLoader } from './integration/loaders.ts';
import { ModelRecordSchema } from './integration/engine/records/schema.ts';

// Previews are turned into thumbnails by the site's own sharp step (cached in
// scanner.cache_dir), not through image(): at 10,000 models astro:assets would copy every
// original into _astro/ and hold it in the bundler.
export const collections = {
  models: defineCollection({
    loader: civitscraperLoader(),
    schema: ModelRecordSchema,
  }),
};
