/**
 * Path components built from remote data (model names, creators, base models) must never escape
 * the organized tree nor be refused by any filesystem a library may live on. One component at a
 * time: no separators, no `.`/`..`, no reserved or control characters, no Windows device names,
 * no trailing dots or spaces, at most `maxBytes` UTF-8 bytes (the extension is kept when a name
 * has to be shortened).
 */
import path from 'node:path';

/** 255 UTF-8 bytes is within every common limit (ext4/btrfs/APFS: 255 bytes, NTFS: 255 UTF-16 units). */
export const MAX_SEGMENT_BYTES = 255;

/** Characters Windows refuses in names (plus both separators), C0/C1 controls and DEL. */
const FORBIDDEN = /[<>:"/\\|?*\u0000-\u001f\u007f-\u009f]/g;
/** Invisible bidirectional overrides would let a folder name display as something else. */
const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069]/g;
/** DOS device names, reserved with any extension (`CON.txt`), case-insensitive. */
const RESERVED = /^(?:con|prn|aux|nul|com[0-9\u00b9\u00b2\u00b3]|lpt[0-9\u00b9\u00b2\u00b3]|conin\$|conout\$)$/i;
/** Leading dots hide a folder on POSIX; trailing dots and spaces are silently dropped by Windows. */
const EDGE_DOTS_SPACES = /^[\s.]+|[\s.]+$/gu;

export interface SanitizeOptions {
  maxBytes?: number;
  /** Used when nothing usable is left. */
  fallback?: string;
}

export function sanitizeSegment(value: string, options: SanitizeOptions = {}): string {
  const maxBytes = options.maxBytes ?? MAX_SEGMENT_BYTES;
  const fallback = options.fallback ?? '_';
  let text = value.normalize('NFC').replace(BIDI_CONTROLS, '').replace(FORBIDDEN, '_').replace(EDGE_DOTS_SPACES, '');
  if (text === '') return fallback;
  const dot = text.indexOf('.');
  const base = dot === -1 ? text : text.slice(0, dot);
  if (RESERVED.test(base.trimEnd())) text = `${base}_${dot === -1 ? '' : text.slice(dot)}`;
  text = truncateToBytes(text, maxBytes);
  return text === '' ? fallback : text;
}

export function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

// Made on first use: building it loads ICU's break rules (tens of ms), and most runs never
// shorten a name.
let graphemes: Intl.Segmenter | undefined;

/**
 * Shortens a name to `maxBytes` UTF-8 bytes on grapheme boundaries (never half a character or
 * half an emoji), keeping a short extension (`.safetensors`, `.json`) when there is one.
 */
export function truncateToBytes(text: string, maxBytes: number): string {
  if (byteLength(text) <= maxBytes) return text;
  const ext = path.extname(text);
  const keep = ext.length > 1 && byteLength(ext) <= Math.min(32, Math.floor(maxBytes / 4)) ? ext : '';
  const stem = keep ? text.slice(0, -keep.length) : text;
  const budget = maxBytes - byteLength(keep);
  let out = '';
  let used = 0;
  graphemes ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' });
  for (const { segment } of graphemes.segment(stem)) {
    const size = byteLength(segment);
    if (used + size > budget) break;
    out += segment;
    used += size;
  }
  out = out.replace(/[\s.]+$/u, '');
  if (out === '') return keep ? `_${keep}` : '';
  return out + keep;
}

/** True when `child` is `root` itself or lies below it (lexically, after resolving). */
export function isInside(root: string, child: string): boolean {
  const relative = path.relative(path.resolve(root), path.resolve(child));
  return relative === '' || (!path.isAbsolute(relative) && relative.split(path.sep)[0] !== '..');
}
