/// <reference types="astro/client" />
/**
 * `gallery-data/core-<hash>.js` and `gallery-data/gallery-<hash>.js`: the gallery's search index,
 * its core (what filtering needs) and its second part (page ids, file names, version names,
 * trigger words, fetched after the first paint). The hash in a name changes with the content,
 * so a browser never mixes an old file with a new page.
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
  return [
    { params: { file: data.coreFile }, props: { script: data.coreScript } },
    { params: { file: data.extraFile }, props: { script: data.extraScript } },
  ];
}) satisfies GetStaticPaths;

export const GET: APIRoute<{ script: string }> = ({ props }) =>
  new Response(props.script, { headers: { 'Content-Type': 'text/javascript; charset=utf-8' } });
