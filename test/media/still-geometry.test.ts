/**
 * stillGeometry (engine/media/sniff.ts): the size of a still JPEG or WebP from its header, which
 * decides whether a preview is served as its own thumbnail (site/thumbnails.ts). Checked against
 * sharp's own reading; anything it should not vouch for comes back undefined.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { stillGeometry } from '../../src/integration/engine/media/sniff.ts';

const base = () => sharp({ create: { width: 450, height: 658, channels: 3, background: { r: 200, g: 80, b: 30 } } });

describe('stillGeometry', () => {
  it('reads width and height of JPEGs (baseline, progressive, with upright EXIF) and WebPs (lossy, lossless, with alpha)', async () => {
    const files: [string, Buffer][] = [
      ['jpeg', await base().jpeg().toBuffer()],
      ['jpeg', await base().jpeg({ progressive: true }).toBuffer()],
      ['jpeg', await base().withMetadata({ orientation: 1 }).jpeg().toBuffer()],
      ['webp', await base().webp({ quality: 70 }).toBuffer()],
      ['webp', await base().webp({ lossless: true }).toBuffer()],
      ['webp', await base().ensureAlpha(0.5).webp().toBuffer()],
    ];
    for (const [format, bytes] of files) {
      expect(stillGeometry(bytes)).toEqual({ format, width: 450, height: 658 });
    }
  });

  it('vouches for nothing it would lay out wrong: rotated by EXIF, animated, another format, cut short', async () => {
    const jpeg = await base().jpeg().toBuffer();
    expect(stillGeometry(await base().withMetadata({ orientation: 6 }).jpeg().toBuffer())).toBeUndefined();
    const frame = (background: string) => sharp({ create: { width: 40, height: 80, channels: 3, background } }).png().toBuffer();
    const animated = await sharp([await frame('#336'), await frame('#633')], { join: { animated: true } })
      .webp({ loop: 0, delay: [100, 100] })
      .toBuffer();
    expect((await sharp(animated).metadata()).pages).toBe(2);
    expect(stillGeometry(animated)).toBeUndefined();
    expect(stillGeometry(await base().png().toBuffer())).toBeUndefined();
    expect(stillGeometry(jpeg.subarray(0, 20))).toBeUndefined();
    expect(stillGeometry(Buffer.from('not an image at all, just text'))).toBeUndefined();
  });
});
