/**
 * `gallery-data/gallery-<hash>.js`: the second part of the gallery's search index (page ids, file
 * names, version names, trigger words), loaded by the gallery after its first paint. The hash
 * in the name changes with the content, so a browser never mixes an old file with a new page.
 */
import type { APIRoute, GetStaticPaths } from 'astro';
import { getCollection } from 'astro:content';
import settings from 'virtual:civitscraper/settings';
import { galleryData } from '../site/gallery-data.ts';
import { inSite } from '../site/view.ts';

export const getStaticPaths = (async () => {
  if (!settings.gallery) return [];
  const records = (await getCollection('models')).map((entry) => entry.data).filter((record) => inSite(record, settings));
  const data = galleryData(records, settings);
  return [{ params: { file: data.extraFile }, props: { script: data.extraScript } }];
}) satisfies GetStaticPaths;

export const GET: APIRoute<{ script: string }> = ({ props }) =>
  new Response(props.script, { headers: { 'Content-Type': 'text/javascript; charset=utf-8' } });
