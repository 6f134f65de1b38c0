/// <reference types="astro/client" />
/**
 * `thumbs/<id>.webp`: the gallery card image of each model, at an address the search index can
 * derive from the page id (see integration/site/thumbnails.ts).
 */
import type { APIRoute, GetStaticPaths } from 'astro';
import settings from 'virtual:civitscraper/settings';
import { prepareThumbnails, thumbnail } from '../site/thumbnails.ts';
import { coverImage, pictureOf } from '../site/view.ts';
import { siteEntries } from './data.ts';

export const prerender = true;

export const getStaticPaths = (async () => {
  const entries = siteEntries();
  const paths = entries.flatMap((entry) => {
    const cover = coverImage(entry.data, settings);
    const source = cover ? pictureOf(cover) : undefined;
    return source ? [{ params: { id: entry.id }, props: { source } }] : [];
  });
  if (import.meta.env.PROD) prepareThumbnails(paths.map((path) => path.props.source), settings.thumbCacheDir);
  return paths;
}) satisfies GetStaticPaths;

export const GET: APIRoute<{ source: string }> = async ({ props }) => {
  const bytes = await thumbnail(props.source, settings.thumbCacheDir);
  return new Response(new Uint8Array(bytes), {
    headers: { 'Content-Type': 'image/webp', 'Cache-Control': 'public, max-age=3600' },
  });
};
