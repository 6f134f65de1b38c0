/**
 * The sources of a run, in the user's order (`sources.order`, each switchable with
 * `sources.<name>.enabled`), and the walk over them: per hash, the first source that knows the
 * file answers. A source that fails for a hash (network, 5xx, bad body) is passed over, never
 * read as "not found": only a real "no" from every source asked makes a file "not found".
 *
 * Network modes: `offline` sends no request at all (the archive and local data only);
 * `no-remote` never sends a hash anywhere (the archive only for identification).
 */
import { createCivitaiClient, type CivitaiClient } from '../civitai/client.ts';
import type { Config, SourceName } from '../config/schema.ts';
import type { Identification } from '../enrich/identify.ts';
import type { SourceCounts } from '../report.ts';
import type { Logger } from '../util/logger.ts';
import { ArchiveDbError, archiveDbSource, openArchiveDb, type ArchiveDb } from './archive-db.ts';
import { civarchiveSource } from './civarchive.ts';
import { civitaiSource } from './civitai.ts';
import type { IdentifySource } from './types.ts';

export type NetworkMode = 'online' | 'offline' | 'no-remote';

export interface SourceChain {
  readonly sources: readonly IdentifySource[];
  /** The open archive (for manual links and offline work), when `sources.archive_db` is set and enabled. */
  readonly archive?: ArchiveDb;
  /** Sources left out, with why (logged once). */
  readonly skipped: readonly { name: SourceName; reason: string }[];
  /** The CivitAI client of the civitai.red source (its parents are asked there too). */
  readonly redClient?: CivitaiClient;
  /** Requests for hand-linked versions (GET /model-versions/:id, outside the client). */
  readonly linked: { requests: number; retries: number };
  /** What every source sent or looked up so far (the run report's `sources`). */
  counts(): SourceCounts;
  close(): void;
}

export async function buildSourceChain(
  config: Config,
  options: { client: CivitaiClient; mode: NetworkMode; logger: Logger; signal?: AbortSignal },
): Promise<SourceChain> {
  const { sources: settings } = config;
  const sources: IdentifySource[] = [];
  const skipped: { name: SourceName; reason: string }[] = [];
  let archive: ArchiveDb | undefined;
  let redClient: CivitaiClient | undefined;
  let civarchive: ReturnType<typeof civarchiveSource> | undefined;
  const linked = { requests: 0, retries: 0 };
  const order = [...new Set(settings.order)];
  // The archive is opened even when not listed: manual links and --offline read it too.
  if (settings.archive_db.enabled && settings.archive_db.path) {
    try {
      archive = await openArchiveDb(settings.archive_db.path);
    } catch (error) {
      if (!(error instanceof ArchiveDbError)) throw error;
      options.logger.warn(`${error.message}; going on without it`);
    }
  }
  const names = options.mode === 'online' ? order : ['archive_db' as const];
  for (const name of names) {
    if (!settings[name].enabled) {
      skipped.push({ name, reason: `sources.${name}.enabled is false` });
      continue;
    }
    if (name === 'archive_db') {
      if (archive) sources.push(archiveDbSource(archive));
      else skipped.push({ name, reason: settings.archive_db.path ? 'the archive cannot be read' : 'sources.archive_db has no path' });
    } else if (name === 'civitai') {
      sources.push(civitaiSource('civitai', options.client));
    } else if (name === 'civitai_red') {
      redClient = createCivitaiClient({ ...config.api, base_url: settings.civitai_red.base_url }, {
        logger: options.logger,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      sources.push(civitaiSource('civitai_red', redClient));
    } else {
      civarchive = civarchiveSource({
        baseUrl: settings.civarchive.base_url,
        api: config.api,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      sources.push(civarchive);
    }
  }
  const red = redClient;
  return {
    sources,
    ...(archive ? { archive } : {}),
    skipped,
    ...(redClient ? { redClient } : {}),
    linked,
    counts: () => ({
      civitai: { requests: options.client.stats.apiRequests + linked.requests, retries: options.client.stats.retries + linked.retries },
      civitai_red: { requests: red?.stats.apiRequests ?? 0, retries: red?.stats.retries ?? 0 },
      civarchive: { requests: civarchive?.stats.apiRequests ?? 0, retries: civarchive?.stats.retries ?? 0 },
      archive_db: { lookups: archive?.lookups ?? 0 },
    }),
    close: () => archive?.close(),
  };
}

/**
 * Asks each source in turn about the hashes no earlier source identified. `skipRemote(hash)`:
 * a hash remote sources said "no" to recently (the week-long 404 memory) is not sent again.
 */
export async function lookUpInOrder(
  sources: readonly IdentifySource[],
  sha256s: readonly string[],
  skipRemote: (hash: string) => boolean = () => false,
): Promise<ChainAnswers> {
  const wanted = [...new Set(sha256s.map((hash) => hash.toUpperCase()))];
  const saidNo = new Map<string, Set<SourceName>>();
  const no = (hash: string, name: SourceName) => saidNo.set(hash, (saidNo.get(hash) ?? new Set()).add(name));
  if (sources.length === 0) {
    return { results: new Map(wanted.map((hash) => [hash, { status: 'unknown', error: 'no identification source is enabled (sources.order)' }])), saidNo };
  }
  const failures = new Map<string, string[]>();
  const results = new Map<string, Identification>();
  let open = wanted;
  for (const source of sources) {
    if (open.length === 0) break;
    const ask = source.local ? open : open.filter((hash) => !skipRemote(hash));
    if (!source.local) for (const hash of open) if (skipRemote(hash)) no(hash, source.name);
    const answers = ask.length > 0 ? await source.lookup(ask) : new Map();
    for (const hash of ask) {
      const answer = answers.get(hash) ?? { status: 'unknown', error: `${source.name} gave no answer` };
      if (answer.status === 'identified') {
        results.set(hash, { status: 'identified', version: answer.version, source: source.name, ...(answer.model ? { model: answer.model } : {}) });
      } else if (answer.status === 'not-found') {
        no(hash, source.name);
      } else {
        failures.set(hash, [...(failures.get(hash) ?? []), `${source.name}: ${answer.error}`]);
      }
    }
    open = open.filter((hash) => !results.has(hash));
  }
  for (const hash of open) {
    const failed = failures.get(hash);
    results.set(hash, failed ? { status: 'unknown', error: failed.join('; ') } : { status: 'not-found' });
  }
  return { results, saidNo };
}

export interface ChainAnswers {
  results: Map<string, Identification>;
  /** Per hash, the sources that really answered "not known" (or did recently: the 404 memory). */
  saidNo: Map<string, Set<SourceName>>;
}
