/**
 * CivitAI image CDN URLs: `…/<uuid>/<options>/<name>.<ext>`, where `<options>` is a comma list
 * (`original=true`, `width=450`, `anim=false`, …). Replacing that segment asks the CDN for a
 * rendition.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The widths the CDN snaps to; asking for one of them hits its cache. */
export const CDN_WIDTHS = [96, 320, 450, 512, 800, 1200, 1600, 2200] as const;

export function snapWidth(width: number): number {
  return CDN_WIDTHS.find((step) => step >= width) ?? 2200;
}

export interface Rendition {
  /** Ask for this width (snapped up to the ladder); ignored with `original`. */
  width?: number;
  original?: boolean;
  /** `anim=false`: a still frame of a video or animated image. */
  still?: boolean;
}

/** The same image at another rendition; URLs of any other shape come back unchanged. */
export function cdnRendition(url: string, rendition: Rendition): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  const segments = parsed.pathname.split('/');
  const at = segments.findIndex((segment) => UUID.test(segment));
  // uuid, [options,] name: anything else is not a CDN URL we know how to change.
  const hasOptions = segments.length === at + 3;
  if (at < 0 || (!hasOptions && segments.length !== at + 2)) return url;
  const options: string[] = [];
  if (rendition.original) options.push('original=true');
  else if (rendition.width) options.push(`width=${snapWidth(rendition.width)}`);
  if (rendition.still) options.push('anim=false', 'transcode=true');
  if (options.length === 0) return url;
  if (hasOptions) segments[at + 1] = options.join(',');
  else segments.splice(at + 1, 0, options.join(','));
  parsed.pathname = segments.join('/');
  return parsed.toString();
}
