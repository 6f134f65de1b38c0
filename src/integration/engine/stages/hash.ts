import { messageOf } from '../enrich/identify.ts';
import type { RunContext } from '../run.ts';
import { ModelFileError } from '../scan/safetensors.ts';
import { defaultTensorOffset, resolveHashes } from '../state/index.ts';
import { readHeaderOnce } from './training.ts';
import { createStatter } from '../scan/stat-many.ts';
import { formatBytes } from '../util/format.ts';

/**
 * Hashes what has no trusted hashes yet: from the ledger (0 bytes read), other tools' sidecars,
 * or one read in the worker pool. Finished files are remembered in batches (resolve-hashes.ts),
 * so a run stopped half way keeps them.
 */
export async function hashFiles(ctx: RunContext): Promise<void> {
  const { config, state, pool, report, progress, signal } = ctx;
  const pending = ctx.candidates.filter((item) => !item.hashes);
  // Known once the ledger has answered: only the files really read count (#15).
  let total = 0;
  let totalBytes = 0;
  const byPath = new Map(pending.map((item) => [item.file.path, item]));
  const started = performance.now();
  let done = 0;
  let bytes = 0;
  const inFlight = new Map<string, number>();
  const sumInFlight = () => {
    let sum = 0;
    for (const value of inFlight.values()) sum += value;
    return sum;
  };
  const result = await resolveHashes(
    pending.map((item) => item.file),
    {
      types: config.scanner.hash_types,
      pool,
      store: state,
      ownSidecars: (file) => [byPath.get(file.path)?.layout.metadataPath ?? ''].filter(Boolean),
      // The header is read once per run: the training stage and the AutoV3 read take it from here.
      tensorOffset: (file) => {
        const item = byPath.get(file.path);
        return item && file.ext === '.safetensors' ? readHeaderOnce(item) : defaultTensorOffset(file);
      },
      signal,
      onPlanned: (plan) => {
        total = plan.toRead.length;
        totalBytes = plan.bytes;
        const found = ctx.candidates.length;
        const seeded = plan.fromSidecars;
        progress?.({ stage: 'hash', phase: 'start', done, total, bytes, totalBytes, of: found, unchanged: found - total - seeded, seeded });
      },
      // Bytes of the files being read count as they go: a large file moves the line while it is read.
      onBytes: (file, bytesDone) => {
        inFlight.set(file.path, bytesDone);
        progress?.({ stage: 'hash', phase: 'progress', done, total, bytes: bytes + sumInFlight(), totalBytes });
      },
      onResult: (file, outcome) => {
        inFlight.delete(file.path);
        // A file cancelled by Ctrl-C is neither done nor failed: the next run hashes it.
        if ('error' in outcome && signal?.aborted) return;
        const item = byPath.get(file.path);
        if (item && 'error' in outcome) report.fail(file.path, 'hash', describeFileError(outcome.error));
        else if (item && !('error' in outcome)) {
          item.hashes = outcome.hashes;
          if (outcome.training !== undefined) item.training ??= outcome.training;
        }
        // Progress counts the files read (the ones the start line announced).
        if (!('error' in outcome) && outcome.source !== 'read') return;
        done += 1;
        if (!('error' in outcome)) bytes += outcome.bytesRead;
        progress?.({ stage: 'hash', phase: 'progress', done, total, bytes: bytes + sumInFlight(), totalBytes, item: file.path });
      },
    },
  );
  // A file still being copied in: what was hashed is not what was found. Next run reads it whole.
  // Stat'ed in one batch (stat-many.ts): a promise stat per file read was a tenth of this stage
  // on tiny files.
  const read = pending.filter((item) => item.hashes && result.resolved.get(item.file.path)?.source === 'read');
  const stats = await createStatter()(read.map((item) => item.file.path));
  read.forEach((item, index) => {
    const now = stats[index];
    if (now && !(now instanceof Error) && now.size === item.file.size && now.mtimeMs === item.file.mtimeMs) return;
    item.hashes = undefined;
    state?.ledger.forget(item.file.path);
    report.fail(item.file.path, 'hash', 'the file changed while it was being scanned (still being copied?); it is read again on the next run');
  });
  report.hash.files = result.counts.read;
  report.hash.bytes = result.bytesRead;
  report.hash.fromLedger = result.counts.ledger;
  report.hash.fromSidecars = result.counts.sidecar;
  report.hash.seconds = round((performance.now() - started) / 1000);
  progress?.({ stage: 'hash', phase: 'end', done, total, bytes, totalBytes });
  ctx.log.info(
    `hash: ${result.counts.read} files read (${formatBytes(result.bytesRead)} in ${report.hash.seconds} s), ${result.counts.ledger} from the ledger, ${result.counts.sidecar} from other tools' sidecars`,
  );
  ctx.items = ctx.candidates.filter((item) => item.hashes !== undefined);
}

function describeFileError(error: unknown): string {
  if (error instanceof ModelFileError) return error.message;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return 'cannot be read (permission denied)';
  if (code === 'ENOENT') return 'disappeared while scanning';
  if (code === 'EISDIR') return 'is a folder, not a file';
  return messageOf(error);
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
