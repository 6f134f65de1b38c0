/**
 * What the engine tells a front end while it runs: the CLI draws a live line per stage from
 * it on a TTY (or logs a line per stage), the Astro loader forwards it to Astro's logger.
 */
export type Stage = 'discover' | 'hash' | 'identify' | 'enrich' | 'images' | 'sidecars' | 'organize';

export interface ProgressEvent {
  stage: Stage;
  phase: 'start' | 'progress' | 'end';
  /** Items finished / to do in this stage (files, hashes, models, previews). */
  done: number;
  total: number;
  /**
   * Bytes finished / to do, where the stage moves bytes (hashing, downloads). While hashing,
   * `bytes` includes what is read so far of the files being read (updated at least every
   * 0.25 s and every 64 MiB per file), so one large file moves it before it finishes; `done`
   * counts whole files only.
   */
  bytes?: number;
  totalBytes?: number;
  /**
   * Hashing's start: `total` is what will really be read, decided after the ledger check;
   * `of` the files found, `unchanged` those whose hashes are known (the file did not change),
   * `seeded` those whose hashes came from other tools' sidecars.
   */
  of?: number;
  unchanged?: number;
  seeded?: number;
  /** The item just finished, for a debug log. */
  item?: string;
}

export type ProgressListener = (event: ProgressEvent) => void;
