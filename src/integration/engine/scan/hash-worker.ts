/**
 * One hashing thread of the pool (hash-pool.ts): hashes one file at a time with `hashFile` and
 * answers with the result. Started by Node directly (native TypeScript), never bundled.
 */
import { parentPort } from 'node:worker_threads';
import { blake3Backend, hashFile } from './hash.ts';
import type { WorkerReply, WorkerRequest } from './hash-pool.ts';

const port = parentPort;
if (!port) throw new Error('hash-worker.ts runs as a worker thread of the hash pool only');

const running = new Map<number, AbortController>();

port.on('message', (message: WorkerRequest) => {
  if (message.type === 'cancel') {
    running.get(message.id)?.abort();
    return;
  }
  const { id } = message;
  const controller = new AbortController();
  running.set(id, controller);
  hashFile(message.path, { types: message.types, tensorOffset: message.tensorOffset, signal: controller.signal,
    blockingReads: true,
    // Posted from the blocking loop: the pool (on another thread) receives them meanwhile.
    onProgress: (bytes) => reply({ type: 'progress', id, bytes }),
  })
    .then((result) => reply({ type: 'done', id, result }))
    .catch((error: unknown) => {
      const { name, message: text, code } = error as { name?: string; message?: string; code?: string };
      reply({ type: 'failed', id, error: { name: name ?? 'Error', message: text ?? String(error), code } });
    })
    .finally(() => running.delete(id));
});

function reply(message: WorkerReply): void {
  port?.postMessage(message);
}

reply({ type: 'ready', blake3: blake3Backend() });
