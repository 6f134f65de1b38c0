/** Numbers for people: sizes, rates, durations. */
import { formatBytes } from '../engine/util/format.ts';

export { formatBytes };

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
