// This site's collections: its own notes, and the models, for the "about" page (the gallery's
// pages do not need this file; they come with the integration).
import { defineCollection } from 'astro:content';
import { glob } from 'astro/loaders';
import { z } from 'astro/zod';
import { civitscraperLoader, modelsSchema } from 'civitscraper-astro/loaders';

export const collections = {
  models: defineCollection({ loader: civitscraperLoader(), schema: modelsSchema }),
  notes: defineCollection({
    loader: glob({ pattern: '*.md', base: './src/content/notes' }),
    schema: z.object({ title: z.string() }),
  }),
};
