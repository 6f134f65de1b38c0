/**
 * Runs the fake CivitAI standalone:
 *   node src/dev/fake-civitai/cli.ts [--port 4123] [--host 127.0.0.1] [--library <dir>]
 *        [--latency <ms>] [--jitter <ms>] [--rate429 <p>] [--retry-after <s>] [--rate500 <p>]
 *        [--rate503 <p>] [--rate-truncated <p>] [--rate-drop <p>] [--seed <n>] [--fault-paths <substring>]
 *        [--body-fault drip|stall|oversize|oversize-chunked|lying-length|gzip-bomb] [--oversize-bytes <n>]
 *        [--description-chars <n>] [--nsfw-in-versions]
 * `--library` reads the manifest written by `node src/dev/sample-library/cli.ts <dir>`.
 * Prints the origin on the first line, then the API base URL. Ctrl-C stops it.
 */
import { parseArgs } from 'node:util';
import { loadSampleLibrary } from '../sample-library/library.ts';
import { BODY_FAULT_KINDS, type BodyFaultKind } from './faults.ts';
import { startFakeCivitai } from './server.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    library: { type: 'string' },
    latency: { type: 'string' },
    jitter: { type: 'string' },
    rate429: { type: 'string' },
    'retry-after': { type: 'string' },
    rate500: { type: 'string' },
    rate503: { type: 'string' },
    'rate-truncated': { type: 'string' },
    'rate-drop': { type: 'string' },
    seed: { type: 'string' },
    'fault-paths': { type: 'string', multiple: true },
    'body-fault': { type: 'string' },
    'oversize-bytes': { type: 'string' },
    'description-chars': { type: 'string' },
    'nsfw-in-versions': { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  console.log('usage: node src/dev/fake-civitai/cli.ts [--port N] [--library <dir>] [--latency ms] [--rate429 p] …');
  process.exit(0);
}

const num = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));
const bodyFault = values['body-fault'];
if (bodyFault !== undefined && !(BODY_FAULT_KINDS as readonly string[]).includes(bodyFault)) {
  console.error(`--body-fault must be one of ${BODY_FAULT_KINDS.join(', ')}`);
  process.exit(2);
}
let library;
if (values.library) {
  try {
    library = await loadSampleLibrary(values.library);
  } catch {
    console.error(`no sample library manifest in ${values.library}; create one with: node src/dev/sample-library/cli.ts ${values.library}`);
    process.exit(2);
  }
}
const fake = await startFakeCivitai({
  port: Number(values.port),
  host: values.host,
  library,
  versionImageMaxLevel: values['nsfw-in-versions'] ? 31 : 1,
  faults: {
    seed: num(values.seed),
    latencyMs: num(values.latency),
    jitterMs: num(values.jitter),
    rate429: num(values.rate429),
    retryAfter: values['retry-after'],
    rate500: num(values.rate500),
    rate503Html: num(values.rate503),
    rateTruncated: num(values['rate-truncated']),
    rateDrop: num(values['rate-drop']),
    paths: values['fault-paths'],
    bodyFault: bodyFault as BodyFaultKind | undefined,
    oversizeBytes: num(values['oversize-bytes']),
    descriptionChars: num(values['description-chars']),
  },
});

console.log(fake.url);
console.log(`api: ${fake.apiBaseUrl}`);
if (library) {
  const bound = library.entries.filter((e) => e.binding).length;
  console.log(`library: ${library.root} (${bound} files bound to fixture versions)`);
}

if (!values.quiet) {
  let seen = 0;
  setInterval(() => {
    for (; seen < fake.requests.length; seen += 1) {
      const r = fake.requests[seen];
      if (r) console.log(`${r.status ?? '…'} ${r.method} ${r.path}${r.search}${r.fault ? ` [fault ${r.fault}]` : ''}${r.bodyFault ? ` [body ${r.bodyFault}]` : ''}`);
    }
  }, 250).unref();
}

const stop = (): void => {
  fake.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
