/** Numbers for people: sizes, rates, durations. */

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

/** Bytes per second; `unit: 'GB'` always in GB/s with two decimals (hashing throughput). */
export function formatRate(bytesPerSecond: number, unit?: 'GB'): string {
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond < 0) return '-- /s';
  if (unit === 'GB') return `${(bytesPerSecond / 1024 ** 3).toFixed(2)} GB/s`;
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** `0.4 s`, `12 s`, `3m05s`, `1h02m`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s).padStart(2, '0')}s`;
}

/** `1 file`, `3 files`. */
export function plural(count: number, singular: string, pluralForm = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : pluralForm}`;
}
