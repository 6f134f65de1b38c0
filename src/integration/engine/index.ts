/**
 * The engine without Astro: what the CLI and the integration run, for scripts of your own.
 *
 *   import { loadConfig, runScanJob, selectJobs } from 'civitscraper-astro/engine';
 */
export { ConfigError, loadConfig, selectJobs } from './config/index.ts';
export type { Config, LoadedConfig, ScanJob } from './config/index.ts';
export { runScanJob } from './run.ts';
export type { ScanJobOptions, ScanJobResult } from './run.ts';
export type { ModelRecord } from './records/schema.ts';
