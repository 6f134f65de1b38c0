import { defineCollection } from 'astro:content';
import { civitscraperLoader } from './integration/loader.ts';
import { modelEntrySchema } from './integration/records/entry.ts';

export const collections = {
  models: defineCollection({
    loader: civitscraperLoader(),
    schema: ({ image }) => modelEntrySchema(image),
  }),
};
