/**
 * Draws the engine's progress events (integration/engine/progress.ts).
 *
 * On a TTY: one live line per stage, redrawn in place with counts, bytes, rate and ETA (hashing
 * in GB/s), left on screen as the stage's summary when it ends. Not on a TTY (cron, pipes, CI):
 * plain log lines, one when a stage with known work starts and one when it ends, plus one every
 * 30 s for long stages. `--debug` adds a line per finished item either way.
 */
import path from 'node:path';
import type { ProgressEvent, ProgressListener, Stage } from '../engine/progress.ts';
import type { Logger } from '../engine/util/logger.ts';
import { formatBytes, formatDuration, formatRate } from './format.ts';
import type { Terminal } from './terminal.ts';

const UNIT: Record<Stage, string> = {
  discover: 'files',
  hash: 'files',
  identify: 'hashes',
  enrich: 'models',
  images: 'previews',
  sidecars: 'files',
  organize: 'files',
};

/** Live line: at most this often (plus the last state of a stage). */
const REDRAW_MS = 100;
/** Plain mode: a progress line at most this often within one stage. */
const PLAIN_INTERVAL_MS = 30_000;

export interface ProgressOptions {
  terminal: Terminal;
  /** Console and file. */
  logger: Logger;
  /** File only: on a TTY the console shows the live line instead of the summary lines. */
  fileLogger: Logger;
  /** Anything on the console at all (false with --quiet). */
  console: boolean;
  /** Shown in front of each line, e.g. the job name when several jobs run. */
  label?: string;
  now?: () => number;
}

export interface ProgressRenderer {
  onProgress: ProgressListener;
  /** Ends a live line left open (a stage that never ended: interrupted or failed). */
  close(): void;
}

interface StageState {
  startedAt: number;
  last: ProgressEvent;
  drawnAt: number;
  loggedAt: number;
  debugDone: number;
  ended: boolean;
}

export function createProgress(options: ProgressOptions): ProgressRenderer {
  const now = options.now ?? (() => performance.now());
  const live = options.console && options.terminal.live;
  const prefix = options.label ? `[${options.label}] ` : '';
  const summaryLog = live ? options.fileLogger : options.logger;
  const states = new Map<Stage, StageState>();
  let open: Stage | undefined;

  const onProgress: ProgressListener = (event) => {
    const time = now();
    let state = states.get(event.stage);
    if (event.phase === 'start' || !state) {
      state = { startedAt: time, last: event, drawnAt: -Infinity, loggedAt: time, debugDone: 0, ended: false };
      states.set(event.stage, state);
      // Hashing says what it found unchanged even when that is everything.
      if (event.phase === 'start' && (event.total > 0 || (event.of ?? 0) > 0)) summaryLog.info(`${prefix}${startLine(event)}`);
    }
    state.last = event;
    const elapsed = (time - state.startedAt) / 1000;

    if (event.phase === 'end') {
      state.ended = true;
      const summary = `${prefix}${endLine(event, elapsed)}`;
      if (live) {
        if (open !== undefined && open !== event.stage) finishOpen(' (left)');
        options.terminal.endLive(`${prefix}${liveLine(event, elapsed, true)}`);
        open = undefined;
      }
      summaryLog.info(summary);
      return;
    }

    if (event.phase === 'progress' && event.done > state.debugDone) {
      // One debug line per finished item (events that only move bytes add none).
      state.debugDone = event.done;
      options.logger.debug(`${prefix}${event.stage}: ${event.done}/${event.total || '?'}${event.item ? ` ${event.item}` : ''}`);
    }
    if (live) {
      if (open !== undefined && open !== event.stage) finishOpen('');
      open = event.stage;
      if (time - state.drawnAt >= REDRAW_MS || event.done === event.total || event.phase === 'start') {
        state.drawnAt = time;
        options.terminal.setLive(`${prefix}${liveLine(event, elapsed, false)}`);
      }
    } else if (event.phase === 'progress' && time - state.loggedAt >= PLAIN_INTERVAL_MS) {
      state.loggedAt = time;
      options.logger.info(`${prefix}${event.stage}: ${counts(event)}${bytesPart(event, ' of ')}${rates(event, elapsed)}`);
    }
  };

  function finishOpen(note: string): void {
    if (open === undefined) return;
    const state = states.get(open);
    if (state && !state.ended) {
      const elapsed = (now() - state.startedAt) / 1000;
      options.terminal.endLive(`${prefix}${liveLine(state.last, elapsed, true)}${note}`);
    }
    open = undefined;
  }

  return {
    onProgress,
    close() {
      for (const [stage, state] of states) {
        if (state.ended) continue;
        const elapsed = (now() - state.startedAt) / 1000;
        const line = `${prefix}${stage}: stopped at ${counts(state.last)}${bytesPart(state.last, ' of ')} after ${formatDuration(elapsed)}`;
        if (live && open === stage) {
          options.terminal.endLive(`${prefix}${liveLine(state.last, elapsed, true)} (stopped)`);
          open = undefined;
          options.fileLogger.info(line);
        } else {
          options.logger.info(line);
        }
        state.ended = true;
      }
      if (live) options.terminal.clearLive();
    },
  };
}

function counts(event: ProgressEvent): string {
  return event.total > 0 ? `${event.done}/${event.total} ${UNIT[event.stage]}` : `${event.done} ${UNIT[event.stage]}`;
}

function bytesPart(event: ProgressEvent, joiner: string): string {
  if (event.totalBytes === undefined && event.bytes === undefined) return '';
  const done = event.bytes ?? 0;
  return event.totalBytes !== undefined ? `, ${formatBytes(done)}${joiner}${formatBytes(event.totalBytes)}` : `, ${formatBytes(done)}`;
}

function rate(event: ProgressEvent, elapsed: number): number | undefined {
  if (event.bytes === undefined || elapsed <= 0) return undefined;
  return event.bytes / elapsed;
}

function formatStageRate(event: ProgressEvent, value: number): string {
  return formatRate(value, event.stage === 'hash' ? 'GB' : undefined);
}

function eta(event: ProgressEvent, elapsed: number): number | undefined {
  const bytesPerSecond = rate(event, elapsed);
  if (event.totalBytes !== undefined && bytesPerSecond !== undefined && bytesPerSecond > 0) {
    return Math.max(0, (event.totalBytes - (event.bytes ?? 0)) / bytesPerSecond);
  }
  if (event.total > 0 && event.done > 0 && elapsed > 0) return Math.max(0, ((event.total - event.done) * elapsed) / event.done);
  return undefined;
}

function rates(event: ProgressEvent, elapsed: number): string {
  const value = rate(event, elapsed);
  const remaining = eta(event, elapsed);
  return `${value !== undefined ? `, ${formatStageRate(event, value)}` : ''}${remaining !== undefined ? `, ETA ${formatDuration(remaining)}` : ''}`;
}

function startLine(event: ProgressEvent): string {
  const bytes = event.totalBytes !== undefined ? ` (${formatBytes(event.totalBytes)})` : '';
  if (event.of !== undefined) {
    // `hash: 12 of 50,500 files to read (3.1 GB); 50,488 unchanged`: what is really read.
    const seeded = event.seeded ? `, ${count(event.seeded)} from other tools' sidecars` : '';
    return `${event.stage}: ${count(event.total)} of ${count(event.of)} ${UNIT[event.stage]} to read${bytes}; ${count(event.unchanged ?? 0)} unchanged${seeded}`;
  }
  return `${event.stage}: ${event.total} ${UNIT[event.stage]}${bytes}`;
}

const count = (value: number) => value.toLocaleString('en-US');

function endLine(event: ProgressEvent, elapsed: number): string {
  const value = rate(event, elapsed);
  const bytes = event.bytes !== undefined ? `, ${formatBytes(event.bytes)}` : '';
  return `${event.stage}: done, ${counts(event)}${bytes} in ${formatDuration(elapsed)}${value !== undefined && event.bytes ? ` (${formatStageRate(event, value)})` : ''}`;
}

/** `hash      3/12 files  1.2 GB/4.0 GB  1.05 GB/s  ETA 3.0 s  name.safetensors` */
function liveLine(event: ProgressEvent, elapsed: number, final: boolean): string {
  const parts = [event.stage.padEnd(9), counts(event)];
  if (event.bytes !== undefined || event.totalBytes !== undefined) {
    parts.push(event.totalBytes !== undefined ? `${formatBytes(event.bytes ?? 0)}/${formatBytes(event.totalBytes)}` : formatBytes(event.bytes ?? 0));
  }
  const value = rate(event, elapsed);
  if (value !== undefined || event.stage === 'hash') parts.push(value !== undefined ? formatStageRate(event, value) : event.stage === 'hash' ? '-.-- GB/s' : '');
  if (final) {
    parts.push(`in ${formatDuration(elapsed)}`);
  } else {
    const remaining = eta(event, elapsed);
    parts.push(`ETA ${remaining !== undefined ? formatDuration(remaining) : '--'}`);
    if (event.item) parts.push(path.basename(event.item));
  }
  return parts.filter(Boolean).join('  ');
}
