import { z } from 'zod';
import { LocalImageSchema, ModelRecordSchema } from './schema.ts';

/**
 * The `models` collection entry: a ModelRecord whose images also carry `asset` (for a video:
 * its still frame), the same file validated by Astro's `image()` helper so pages can make
 * thumbnails with astro:assets. Astro passes `image` in; this file stays framework-free.
 */
export function modelEntrySchema<TImage extends z.ZodType>(image: () => TImage) {
  return ModelRecordSchema.extend({
    images: z.array(LocalImageSchema.extend({ asset: image().optional() })).default([]),
  });
}

const STILL_IMAGE = /\.(jpe?g|png|webp|avif|gif|tiff?)$/i;

/** Adds `asset` (the file path, for `image()`) to every still image of a record. */
export function toEntryData(record: z.infer<typeof ModelRecordSchema>): Record<string, unknown> {
  return {
    ...record,
    images: record.images.map((image) => {
      const picture = image.type === 'video' ? image.still : image.path;
      return picture && STILL_IMAGE.test(picture) ? { ...image, asset: picture } : image;
    }),
  };
}
