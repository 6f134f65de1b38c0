/**
 * Page ids: a readable slug of the file name plus the AutoV2 (first 10 hex of the SHA-256), so
 * a model keeps its URL when it is renamed or moved. The same file in two places gets `-2`,
 * `-3` in path order.
 */
export function slugify(value: string): string {
  // ASCII is its own decomposition: most names skip the Unicode passes.
  const plain = /^[\x00-\x7f]*$/.test(value) ? value : value.normalize('NFKD').replace(/[\u0300-\u036f]/g, '');
  const slug = plain
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/, '');
  return slug || 'model';
}

export function assignRecordIds<T extends { stem: string; sha256: string }>(items: readonly T[]): string[] {
  const used = new Map<string, number>();
  return items.map((item) => {
    const base = `${slugify(item.stem)}-${item.sha256.slice(0, 10).toLowerCase()}`;
    const count = (used.get(base) ?? 0) + 1;
    used.set(base, count);
    return count === 1 ? base : `${base}-${count}`;
  });
}
