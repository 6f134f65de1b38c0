/**
 * The fake image CDN: `/cdn/<key>/<uuid>/<options>/<name>.<ext>` (the path of
 * `https://image.civitai.com/<key>/<uuid>/<options>/<name>.<ext>`).
 *
 * Images are small solid-colour pictures made with sharp, one colour per uuid, sized from
 * `width=`/`height=` (or the recorded size, scaled down, for `original=true`). Videos are a tiny
 * MP4-like blob unless `anim=false` asks for a still. One image answers PNG bytes under its
 * `.jpeg` URL, like the real CDN sometimes does.
 */
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import type { MediaInfo } from './catalog.ts';
import { createPrng, prngBytes, seedFrom } from './prng.ts';

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

/** A few hundred bytes shaped like an MP4: `ftyp`, `moov/mvhd`, `mdat`. */
export function fakeMp4(uuid: string): Buffer {
  const box = (type: string, payload: Buffer): Buffer => {
    const header = Buffer.alloc(8);
    header.writeUInt32BE(8 + payload.length, 0);
    header.write(type, 4, 'latin1');
    return Buffer.concat([header, payload]);
  };
  const ftyp = box('ftyp', Buffer.from('isom\u0000\u0000\u0002\u0000isomiso2avc1mp41', 'latin1'));
  const mvhd = Buffer.alloc(100);
  mvhd.writeUInt32BE(1000, 12); // timescale
  mvhd.writeUInt32BE(2000, 16); // duration: 2 s
  mvhd.writeUInt32BE(0x00010000, 20); // rate 1.0
  mvhd.writeUInt16BE(0x0100, 24); // volume 1.0
  const moov = box('moov', box('mvhd', mvhd));
  const mdat = box('mdat', prngBytes(createPrng(seedFrom(`mp4:${uuid}`)), 512));
  return Buffer.concat([ftyp, moov, mdat]);
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
    const image = sharp({ create: { width, height, channels: 3, background: colourOf(uuid) } });
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
    return { status: 200, contentType: 'video/mp4', body: fakeMp4(uuid) };
  }
  const { width, height } = targetSize(info, options);
  const format = uuid === PNG_AS_JPEG_UUID ? 'png' : ext === 'png' ? 'png' : ext === 'webp' ? 'webp' : 'jpeg';
  const body = await render(uuid, width, height, format);
  return { status: 200, contentType: `image/${format}`, body };
}
