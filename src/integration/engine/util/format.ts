/** Sizes for people (engine log lines, the CLI). */

const UNITS = ['KB', 'MB', 'GB', 'TB'] as const;

/** 1024-based, one decimal: `512 B`, `1.5 MB`, `2.3 GB`. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 1024) return `${Math.max(0, Math.round(bytes || 0))} B`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${UNITS[unit]}`;
}
