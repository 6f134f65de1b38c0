/**
 * The fake image CDN: `/cdn/<key>/<uuid>/<options>/<name>.<ext>` (the path of
 * `https://image.civitai.com/<key>/<uuid>/<options>/<name>.<ext>`).
 *
 * Images are small generated landscapes (a sky gradient, a sun or moon, stars at night, layered
 * hills; palette and shapes drawn from the uuid, so every preview differs and stays the same
 * between runs), made with sharp from SVG and sized from `width=`/`height=` (or the recorded
 * size, scaled down, for `original=true`): the demo and the screenshots look like a library, not
 * like colour swatches. Videos are real H.264 MP4 clips (four seconds of an animated landscape,
 * portrait or landscape after the recorded size; `scripts/make-demo-videos.ts` records them) unless
 * `anim=false` asks for a still. One image answers PNG bytes under its `.jpeg` URL, like the real
 * CDN sometimes does.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import type { MediaInfo } from './catalog.ts';
import { createPrng, seedFrom } from './prng.ts';

/**
 * The one image served as PNG bytes under a `.jpeg` URL: the single preview of version 1387174
 * (model 1231067, "Vivid Impressions Storybook Style"), bound to
 * `Lora/Flux/Vivid Impressions Storybook.safetensors` in the sample library.
 */
export const PNG_AS_JPEG_UUID = '42b875cf-c62b-41fa-a349-383b7f074351';

/** Longest side of `original=true` renditions (the real ones are full size). */
const ORIGINAL_MAX_SIDE = 512;
/** The CDN caps `width=` at 1800. */
const MAX_WIDTH = 1800;

export interface CdnResponse {
  status: number;
  contentType: string;
  body: Buffer;
}

export function parseOptions(segment: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!segment || !segment.includes('=')) return out;
  for (const part of segment.split(',')) {
    const [key, value = ''] = part.split('=');
    if (key) out[key] = value;
  }
  return out;
}

/** Colour for a uuid: first bytes of its SHA-256, kept away from pure black/white. */
export function colourOf(uuid: string): { r: number; g: number; b: number } {
  const d = createHash('sha256').update(uuid).digest();
  const c = (i: number): number => 32 + ((d[i] ?? 0) % 192);
  return { r: c(0), g: c(1), b: c(2) };
}

/** The picture of one uuid at one size, as SVG. */
export function sceneSvg(uuid: string, width: number, height: number): string {
  const prng = createPrng(seedFrom(`scene:${uuid}`));
  const pick = (low: number, high: number) => low + prng.next() * (high - low);
  const hue = Math.round(pick(0, 360));
  const night = prng.next() < 0.3;
  const sky = night
    ? [`hsl(${(hue + 200) % 360} 45% 12%)`, `hsl(${(hue + 230) % 360} 40% 28%)`]
    : [`hsl(${hue} 70% 78%)`, `hsl(${(hue + 35) % 360} 65% 58%)`];
  const parts: string[] = [];
  parts.push(`<defs><linearGradient id="s" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${sky[0]}"/><stop offset="1" stop-color="${sky[1]}"/></linearGradient></defs>`);
  parts.push(`<rect width="${width}" height="${height}" fill="url(#s)"/>`);
  if (night) {
    for (let i = 0; i < 40; i += 1) {
      parts.push(`<circle cx="${(pick(0, 1) * width).toFixed(1)}" cy="${(pick(0, 0.55) * height).toFixed(1)}" r="${pick(0.4, 1.6).toFixed(2)}" fill="#fff" opacity="${pick(0.4, 1).toFixed(2)}"/>`);
    }
  }
  const side = Math.min(width, height);
  parts.push(
    `<circle cx="${(pick(0.15, 0.85) * width).toFixed(1)}" cy="${(pick(0.12, 0.4) * height).toFixed(1)}" r="${(pick(0.06, 0.12) * side).toFixed(1)}" fill="${night ? '#f4f1de' : `hsl(${(hue + 20) % 360} 95% 88%)`}" opacity="0.95"/>`,
  );
  const layers = 3 + Math.floor(pick(0, 2));
  for (let layer = 0; layer < layers; layer += 1) {
    const base = height * (0.5 + (layer / layers) * 0.42);
    const amplitude = height * pick(0.05, 0.16);
    const steps = 6 + Math.floor(pick(0, 6));
    const points: string[] = [`0,${height}`];
    for (let step = 0; step <= steps; step += 1) {
      const x = (step / steps) * width;
      points.push(`${x.toFixed(1)},${(base - amplitude * pick(0.2, 1)).toFixed(1)}`);
    }
    points.push(`${width},${height}`);
    const light = night ? 8 + layer * 5 : 62 - layer * 13;
    parts.push(`<polygon points="${points.join(' ')}" fill="hsl(${(hue + 140 + layer * 12) % 360} ${night ? 25 : 35}% ${light}%)"/>`);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join('')}</svg>`;
}

const VIDEO_DIR = new URL('./videos/', import.meta.url);
const videos = new Map<string, Promise<Buffer>>();

/** The recorded clip closest in shape to a video of this size (read once per process). */
export function demoVideo(width: number, height: number): Promise<Buffer> {
  const name = height > width ? 'portrait' : 'landscape';
  let pending = videos.get(name);
  if (!pending) {
    pending = readFile(new URL(`${name}.mp4`, VIDEO_DIR));
    videos.set(name, pending);
  }
  return pending;
}

function targetSize(info: MediaInfo, options: Record<string, string>): { width: number; height: number } {
  const aspect = info.height / Math.max(1, info.width);
  const width = Number.parseInt(options.width ?? '', 10);
  const height = Number.parseInt(options.height ?? '', 10);
  if (Number.isFinite(width) && width > 0) {
    const w = Math.min(width, MAX_WIDTH);
    return { width: w, height: Math.max(1, Math.round(w * aspect)) };
  }
  if (Number.isFinite(height) && height > 0) {
    const h = Math.min(height, 1000);
    return { width: Math.max(1, Math.round(h / aspect)), height: h };
  }
  const scale = Math.min(1, ORIGINAL_MAX_SIDE / Math.max(info.width, info.height, 1));
  return { width: Math.max(1, Math.round(info.width * scale)), height: Math.max(1, Math.round(info.height * scale)) };
}

const cache = new Map<string, Promise<Buffer>>();

function render(uuid: string, width: number, height: number, format: 'jpeg' | 'png' | 'webp'): Promise<Buffer> {
  const key = `${uuid}|${width}x${height}|${format}`;
  let pending = cache.get(key);
  if (!pending) {
    const image = sharp(Buffer.from(sceneSvg(uuid, width, height))).flatten({ background: colourOf(uuid) });
    pending =
      format === 'png'
        ? image.png().toBuffer()
        : format === 'webp'
          ? image.webp({ quality: 80 }).toBuffer()
          : image.jpeg({ quality: 80 }).toBuffer();
    cache.set(key, pending);
  }
  return pending;
}

/**
 * Answers one CDN path (already stripped of `/cdn/`): `<key>/<uuid>[/<options>][/<name>]`.
 * Unknown uuids get a 404.
 */
export async function serveCdn(rest: string, media: ReadonlyMap<string, MediaInfo>): Promise<CdnResponse> {
  const parts = rest.split('/').filter(Boolean).map((p) => decodeURIComponent(p));
  const uuid = parts[1];
  const info = uuid ? media.get(uuid) : undefined;
  if (!uuid || !info) return { status: 404, contentType: 'text/plain; charset=utf-8', body: Buffer.from('Not Found') };
  const optionSegment = parts.slice(2).find((p) => p.includes('='));
  const options = parseOptions(optionSegment);
  const last = parts.length > 2 ? parts[parts.length - 1] ?? '' : '';
  const ext = /\.([a-z0-9]+)$/i.exec(last)?.[1]?.toLowerCase() ?? 'jpeg';

  if (info.type === 'video' && options.anim !== 'false') {
    return { status: 200, contentType: 'video/mp4', body: await demoVideo(info.width, info.height) };
  }
  const { width, height } = targetSize(info, options);
  const format = uuid === PNG_AS_JPEG_UUID ? 'png' : ext === 'png' ? 'png' : ext === 'webp' ? 'webp' : 'jpeg';
  const body = await render(uuid, width, height, format);
  return { status: 200, contentType: `image/${format}`, body };
}
