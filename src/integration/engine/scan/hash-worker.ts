/**
 * One hashing thread of the pool (hash-pool.ts): hashes the files of a message one after the
 * other with `hashFile` and answers with all their results at once. Started by Node directly
 * (native TypeScript), never bundled.
 */
import { parentPort } from 'node:worker_threads';
import { blake3Backend, hashFile } from './hash.ts';
import type { WorkerJob, WorkerOutcome, WorkerReply, WorkerRequest } from './hash-pool.ts';

const port = parentPort;
if (!port) throw new Error('hash-worker.ts runs as a worker thread of the hash pool only');

const running = new Map<number, AbortController>();

port.on('message', (message: WorkerRequest) => {
  if (message.type === 'cancel') {
    running.get(message.id)?.abort();
    return;
  }
  void hashAll(message.jobs);
});

async function hashAll(jobs: readonly WorkerJob[]): Promise<void> {
  // Every job of the batch can be cancelled from the start, also the ones still waiting.
  for (const job of jobs) running.set(job.id, new AbortController());
  const outcomes: WorkerOutcome[] = [];
  for (const job of jobs) {
    const { id } = job;
    const signal = running.get(id)?.signal;
    try {
      const result = await hashFile(job.path, { types: job.types, tensorOffset: job.tensorOffset, signal,
        blockingReads: true,
        // Posted from the blocking loop: the pool (on another thread) receives them meanwhile.
        onProgress: (bytes) => reply({ type: 'progress', id, bytes }),
      });
      outcomes.push({ id, result });
    } catch (error) {
      const { name, message: text, code } = error as { name?: string; message?: string; code?: string };
      outcomes.push({ id, error: { name: name ?? 'Error', message: text ?? String(error), ...(code !== undefined ? { code } : {}) } });
    } finally {
      running.delete(id);
    }
  }
  reply({ type: 'settled', outcomes });
}

function reply(message: WorkerReply): void {
  port?.postMessage(message);
}

reply({ type: 'ready', blake3: blake3Backend() });
