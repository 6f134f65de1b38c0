/** Small seeded PRNG (mulberry32) so the fake server and the sample library never use Math.random. */
export interface Prng {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform unsigned 32-bit integer. */
  nextU32(): number;
}

export function createPrng(seed: number): Prng {
  let state = seed >>> 0;
  const nextU32 = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  return { nextU32, next: () => nextU32() / 4294967296 };
}

/** A 32-bit seed from any string (FNV-1a), for per-file / per-image streams. */
export function seedFrom(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** `length` deterministic bytes from a PRNG. */
export function prngBytes(prng: Prng, length: number): Buffer {
  const out = Buffer.alloc(length);
  let i = 0;
  for (; i + 4 <= length; i += 4) out.writeUInt32LE(prng.nextU32(), i);
  if (i < length) {
    const last = prng.nextU32();
    for (let k = 0; i < length; i += 1, k += 1) out[i] = (last >>> (8 * k)) & 0xff;
  }
  return out;
}
