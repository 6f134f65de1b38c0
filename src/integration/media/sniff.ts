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
