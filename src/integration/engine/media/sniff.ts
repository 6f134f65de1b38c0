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
