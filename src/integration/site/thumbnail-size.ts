/**
 * The size of the site's thumbnails (site/thumbnails.ts makes them), apart from the module that
 * makes them so a page that only lays them out does not load sharp.
 */
export const THUMBNAIL_WIDTH = 560;

/** Width and height of a thumbnail of an image of `width` × `height`. */
export function thumbnailSize(width: number | undefined, height: number | undefined): { width: number; height: number } {
  if (!width || !height) return { width: THUMBNAIL_WIDTH, height: Math.round((THUMBNAIL_WIDTH * 4) / 3) };
  const scale = Math.min(1, THUMBNAIL_WIDTH / width);
  return { width: Math.round(width * scale), height: Math.round(height * scale) };
}
