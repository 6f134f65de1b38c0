/**
 * Trigger words the way Krita AI Diffusion uses them (`metadata.lora_triggers`, one string that
 * the plugin appends to the prompt), and the three merge policies.
 */

export const MERGE_POLICIES = ['fill-empty', 'replace', 'append'] as const;
export type MergePolicy = (typeof MERGE_POLICIES)[number];

/** Strips blanks and trailing commas of one word. */
function cleanWord(word: string): string {
  return word.trim().replace(/[\s,]+$/, '').trim();
}

/**
 * CivitAI `trainedWords` → Krita's trigger string, as the seed wrote it (each word stripped,
 * trailing commas removed, empty words dropped, joined with ", "). Also drops repeats
 * (case-insensitive), which CivitAI lists sometimes contain.
 */
export function formatKritaTriggers(words: readonly unknown[] | null | undefined): string {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const word of words ?? []) {
    if (typeof word !== 'string' && typeof word !== 'number') continue;
    const clean = cleanWord(String(word));
    const key = clean.toLowerCase();
    if (clean === '' || seen.has(key)) continue;
    seen.add(key);
    out.push(clean);
  }
  return out.join(', ');
}

/** The comma-separated words of a trigger string. */
export function splitTriggers(text: string): string[] {
  return text
    .split(',')
    .map(cleanWord)
    .filter((word) => word !== '');
}

export type TriggerDecision =
  | { change: false; reason: 'no-triggers' | 'has-triggers' | 'same' }
  | { change: true; value: string };

/**
 * What `metadata.lora_triggers` should become. `current` is what the entry holds: a string,
 * absent, or the raw list early versions of the seed wrote (Krita cannot use a list, so it is
 * always rewritten as a string, merged with ours).
 */
export function mergeTriggers(current: unknown, ours: string, policy: MergePolicy): TriggerDecision {
  const existing = Array.isArray(current)
    ? formatKritaTriggers(current)
    : typeof current === 'string'
      ? current
      : '';
  const broken = current !== undefined && current !== null && typeof current !== 'string';
  if (ours === '') {
    return broken && existing !== '' ? { change: true, value: existing } : { change: false, reason: 'no-triggers' };
  }
  let value: string;
  if (existing.trim() === '') value = ours;
  else if (policy === 'replace') value = ours;
  else if (policy === 'fill-empty') {
    if (!broken) return { change: false, reason: 'has-triggers' };
    value = existing;
  } else {
    const present = new Set(splitTriggers(existing).map((word) => word.toLowerCase()));
    const missing = splitTriggers(ours).filter((word) => !present.has(word.toLowerCase()));
    const base = existing.replace(/[\s,]+$/, '');
    value = missing.length === 0 ? base : `${base}, ${missing.join(', ')}`;
    if (!broken && missing.length === 0) return { change: false, reason: 'same' };
  }
  if (!broken && value === current) return { change: false, reason: 'same' };
  return { change: true, value };
}

/** Krita's `hash` (base64 of the raw SHA-256 digest) for our hex SHA-256. */
export function sha256HexToKritaHash(hex: string): string | undefined {
  const clean = hex.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(clean)) return undefined;
  return Buffer.from(clean, 'hex').toString('base64');
}

/** Our hex SHA-256 (upper case, as CivitAI writes it) for a Krita `hash`. */
export function kritaHashToSha256Hex(hash: string): string | undefined {
  const clean = hash.trim();
  if (!/^[A-Za-z0-9+/]{43}=$/.test(clean)) return undefined;
  return Buffer.from(clean, 'base64').toString('hex').toUpperCase();
}
