/// <reference types="astro/client" />
/**
 * `gallery-data/gallery-<hash>.js`: the second part of the gallery's search index (page ids, file
 * names, version names, trigger words), loaded by the gallery after its first paint. The hash
 * in the name changes with the content, so a browser never mixes an old file with a new page.
 */
import type { APIRoute, GetStaticPaths } from 'astro';
import settings from 'virtual:civitscraper/settings';
import { galleryData } from '../site/gallery-data.ts';
import { siteEntries, siteInfo } from './data.ts';

export const prerender = true;

export const getStaticPaths = (async () => {
  if (!settings.gallery) return [];
  const records = siteEntries().map((entry) => entry.data);
  const data = galleryData(records, settings, undefined, siteInfo());
  return [{ params: { file: data.extraFile }, props: { script: data.extraScript } }];
}) satisfies GetStaticPaths;

export const GET: APIRoute<{ script: string }> = ({ props }) =>
  new Response(props.script, { headers: { 'Content-Type': 'text/javascript; charset=utf-8' } });
