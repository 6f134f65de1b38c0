/**
 * File type from the first bytes, never from the URL: CivitAI serves PNGs and videos under
 * `.jpeg` names.
 */
export interface SniffedType {
  ext: string;
  kind: 'image' | 'video';
}

export function sniffMediaType(bytes: Uint8Array, contentType = ''): SniffedType | undefined {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 64));
  const ascii = (start: number, end: number) => b.subarray(start, end).toString('latin1');
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return { ext: '.jpeg', kind: 'image' };
  if (b.length >= 8 && b.readUInt32BE(0) === 0x89504e47 && b.readUInt32BE(4) === 0x0d0a1a0a) return { ext: '.png', kind: 'image' };
  if (b.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return { ext: '.webp', kind: 'image' };
  if (b.length >= 6 && (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a')) return { ext: '.gif', kind: 'image' };
  if (b.length >= 12 && ascii(4, 8) === 'ftyp') {
    const brand = ascii(8, 12);
    if (brand === 'avif' || brand === 'avis') return { ext: '.avif', kind: 'image' };
    return { ext: '.mp4', kind: 'video' };
  }
  if (b.length >= 4 && b.readUInt32BE(0) === 0x1a45dfa3) return { ext: '.webm', kind: 'video' };
  if (/^image\/jpe?g/i.test(contentType)) return { ext: '.jpeg', kind: 'image' };
  if (/^video\/mp4/i.test(contentType)) return { ext: '.mp4', kind: 'video' };
  return undefined;
}

/**
 * Whether the bytes hold a whole file of that type: a server that closes early can send half
 * an image with a matching Content-Length, and such a file must not be kept.
 */
export function isCompleteMedia(bytes: Uint8Array, ext: string): boolean {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  switch (ext) {
    case '.jpeg':
      return b.length > 4 && b[b.length - 2] === 0xff && b[b.length - 1] === 0xd9;
    case '.png':
      return b.length > 12 && b.subarray(b.length - 8, b.length - 4).toString('latin1') === 'IEND';
    case '.gif':
      return b.length > 6 && b[b.length - 1] === 0x3b;
    case '.webp':
      return b.length >= 12 && b.readUInt32LE(4) + 8 === b.length;
    case '.mp4':
    case '.avif':
      return isoBoxesFill(b);
    default:
      return true;
  }
}

/** ISO-BMFF (MP4, AVIF): top-level boxes must add up to the file size exactly. */
function isoBoxesFill(b: Buffer): boolean {
  let offset = 0;
  while (offset + 8 <= b.length) {
    let size = b.readUInt32BE(offset);
    if (size === 1) {
      if (offset + 16 > b.length) return false;
      size = Number(b.readBigUInt64BE(offset + 8));
    } else if (size === 0) {
      return true;
    }
    if (size < 8) return false;
    offset += size;
  }
  return offset === b.length;
}

export interface StillGeometry {
  format: 'jpeg' | 'webp';
  width: number;
  height: number;
}

/**
 * Width and height of a still JPEG or WebP from its first bytes, without decoding it; undefined
 * for anything else and for a file that would not show in a page as it lays out: animated, or
 * with an EXIF orientation other than upright (the page sizes it as its pixels come, and a
 * rotation would swap them), or a header this does not follow. Used to serve a preview that is
 * already thumbnail-sized as it is (site/thumbnails.ts), so a file it is unsure of is simply
 * re-encoded.
 */
export function stillGeometry(bytes: Uint8Array): StillGeometry | undefined {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return jpegGeometry(b);
  if (b.length >= 30 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP') return webpGeometry(b);
  return undefined;
}

function jpegGeometry(b: Buffer): StillGeometry | undefined {
  let offset = 2;
  while (offset + 4 <= b.length) {
    if (b[offset] !== 0xff) return undefined;
    const marker = b[offset + 1] as number;
    // Fill bytes before a marker.
    if (marker === 0xff) {
      offset += 1;
      continue;
    }
    const length = b.readUInt16BE(offset + 2);
    if (length < 2) return undefined;
    const body = offset + 4;
    if (marker === 0xe1 && body + 6 <= b.length && b.toString('latin1', body, body + 6) === 'Exif\0\0') {
      const orientation = exifOrientation(b.subarray(body + 6, Math.min(b.length, offset + 2 + length)));
      if (orientation !== 1) return undefined;
    }
    // SOF0–SOF15 but DHT (C4), JPG (C8) and DAC (CC): the frame header, after every APPn a
    // camera or encoder writes.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (body + 5 > b.length) return undefined;
      const height = b.readUInt16BE(body + 1);
      const width = b.readUInt16BE(body + 3);
      return width > 0 && height > 0 ? { format: 'jpeg', width, height } : undefined;
    }
    // Start of scan before any frame header: not a JPEG this follows.
    if (marker === 0xda) return undefined;
    offset += 2 + length;
  }
  return undefined;
}

/** Orientation tag of an EXIF block (TIFF header first); 1 when absent, 0 when unreadable. */
function exifOrientation(tiff: Buffer): number {
  if (tiff.length < 8) return 0;
  const order = tiff.toString('latin1', 0, 2);
  if (order !== 'II' && order !== 'MM') return 0;
  const u16 = (at: number) => (order === 'II' ? tiff.readUInt16LE(at) : tiff.readUInt16BE(at));
  const u32 = (at: number) => (order === 'II' ? tiff.readUInt32LE(at) : tiff.readUInt32BE(at));
  const ifd = u32(4);
  if (ifd + 2 > tiff.length) return 0;
  const count = u16(ifd);
  for (let entry = 0; entry < count; entry += 1) {
    const at = ifd + 2 + entry * 12;
    if (at + 12 > tiff.length) return 0;
    if (u16(at) === 0x0112) return u16(at + 8);
  }
  return 1;
}

function webpGeometry(b: Buffer): StillGeometry | undefined {
  const chunk = b.toString('latin1', 12, 16);
  if (chunk === 'VP8 ') {
    // Key frame start code, then 14-bit width and height (the top two bits are scaling).
    if (b[23] !== 0x9d || b[24] !== 0x01 || b[25] !== 0x2a) return undefined;
    return { format: 'webp', width: b.readUInt16LE(26) & 0x3fff, height: b.readUInt16LE(28) & 0x3fff };
  }
  if (chunk === 'VP8L') {
    if (b[20] !== 0x2f) return undefined;
    const bits = b.readUInt32LE(21);
    return { format: 'webp', width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (chunk === 'VP8X') {
    const flags = b[20] as number;
    // Animation (0x02), or EXIF (0x08), which may carry an orientation.
    if (flags & 0x0a) return undefined;
    return { format: 'webp', width: b.readUIntLE(24, 3) + 1, height: b.readUIntLE(27, 3) + 1 };
  }
  return undefined;
}
