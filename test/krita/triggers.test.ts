import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { formatKritaTriggers, kritaHashToSha256Hex, sha256HexToKritaHash } from '../../src/integration/engine/krita/index.ts';
import { mergeTriggers } from '../../src/integration/engine/krita/triggers.ts';

describe('trigger words', () => {
  it('are cleaned the way the seed wrote them for Krita', () => {
    expect(formatKritaTriggers([' pixel art ', 'pixelated,', '', '  ', 'retro,,', 'Pixel Art'])).toBe('pixel art, pixelated, retro');
    expect(formatKritaTriggers(undefined)).toBe('');
    expect(formatKritaTriggers(null)).toBe('');
  });

  it('merge: fill-empty, replace, append', () => {
    expect(mergeTriggers('', 'a, b', 'fill-empty')).toEqual({ change: true, value: 'a, b' });
    expect(mergeTriggers('   ', 'a, b', 'fill-empty')).toEqual({ change: true, value: 'a, b' });
    expect(mergeTriggers(undefined, 'a, b', 'fill-empty')).toEqual({ change: true, value: 'a, b' });
    expect(mergeTriggers('mine', 'a, b', 'fill-empty')).toEqual({ change: false, reason: 'has-triggers' });
    expect(mergeTriggers('mine', 'a, b', 'replace')).toEqual({ change: true, value: 'a, b' });
    expect(mergeTriggers('a, b', 'a, b', 'replace')).toEqual({ change: false, reason: 'same' });
    expect(mergeTriggers('mine, A,', 'a, b', 'append')).toEqual({ change: true, value: 'mine, A, b' });
    expect(mergeTriggers('mine, A, b', 'a, b', 'append')).toEqual({ change: false, reason: 'same' });
    expect(mergeTriggers('mine', '', 'replace')).toEqual({ change: false, reason: 'no-triggers' });
    // The raw list early seed versions wrote: always turned into a string.
    expect(mergeTriggers(['x', 'y,'], 'a', 'fill-empty')).toEqual({ change: true, value: 'x, y' });
    expect(mergeTriggers(['x'], 'a', 'append')).toEqual({ change: true, value: 'x, a' });
    expect(mergeTriggers(['x'], '', 'append')).toEqual({ change: true, value: 'x' });
  });
});

describe('Krita hash', () => {
  it('is base64 of the raw SHA-256 digest, both ways', () => {
    const digest = createHash('sha256').update('some lora').digest();
    const hex = digest.toString('hex').toUpperCase();
    expect(sha256HexToKritaHash(hex)).toBe(digest.toString('base64'));
    expect(sha256HexToKritaHash(hex.toLowerCase())).toBe(digest.toString('base64'));
    expect(kritaHashToSha256Hex(digest.toString('base64'))).toBe(hex);
    expect(sha256HexToKritaHash('ABC')).toBeUndefined();
    expect(kritaHashToSha256Hex('not a hash')).toBeUndefined();
  });
});
