/// <reference types="astro/client" />
/**
 * The images of a model page, beside it: `preview-<n>.<ext>` is the file as downloaded (image
 * or video, for the viewer), `image-<n>.webp` a resized picture (see integration/site/
 * thumbnails.ts; the cover uses the gallery's `thumbs/<id>.webp`).
 */
import type { APIRoute, GetStaticPaths } from 'astro';
import { readFile } from 'node:fs/promises';
import settings from 'virtual:civitscraper/settings';
import { prepareThumbnails, thumbnail } from '../site/thumbnails.ts';
import { pageImages } from '../site/view.ts';
import { siteEntries } from './data.ts';

const TYPES: Record<string, string> = {
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
  '.mov': 'video/quicktime',
  '.gif': 'image/gif',
  '.jpeg': 'image/jpeg',
  '.jpg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
};

type Props = { kind: 'copy'; source: string; type: string } | { kind: 'resize'; source: string };

export const prerender = true;

export const getStaticPaths = (async () => {
  if (!settings.modelPages) return [];
  const entries = siteEntries();
  const paths: { params: { id: string; file: string }; props: Props }[] = [];
  for (const entry of entries) {
    for (const shot of pageImages(entry.data, settings)) {
      const ext = shot.full.slice(shot.full.lastIndexOf('.'));
      paths.push({ params: { id: entry.id, file: shot.full }, props: { kind: 'copy', source: shot.fullSource, type: TYPES[ext] ?? 'application/octet-stream' } });
      if (shot.picture && shot.thumb === `image-${shot.n}.webp`) {
        paths.push({ params: { id: entry.id, file: shot.thumb }, props: { kind: 'resize', source: shot.picture } });
      }
    }
  }
  if (import.meta.env.PROD) {
    prepareThumbnails(paths.flatMap((path) => (path.props.kind === 'resize' ? [path.props.source] : [])), settings.thumbCacheDir);
  }
  return paths;
}) satisfies GetStaticPaths;

export const GET: APIRoute<Props> = async ({ props }) => {
  const bytes = props.kind === 'resize' ? await thumbnail(props.source, settings.thumbCacheDir) : await readFile(props.source);
  return new Response(new Uint8Array(bytes), {
    headers: { 'Content-Type': props.kind === 'resize' ? 'image/webp' : props.type },
  });
};
