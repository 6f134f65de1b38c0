/**
 * Deterministic fault injection for the fake server. One PRNG draw per matching request picks
 * at most one fault (rates are cumulative probabilities, checked in the order 429, 500, 503
 * HTML, truncated, drop); `failNext` scripts the next matching requests exactly.
 */
import { createPrng, type Prng } from './prng.ts';

/**
 * - `429`: JSON `{"error":"Rate limit exceeded, please retry shortly."}`, `Retry-After` when set.
 * - `500`: JSON `{"error":"An unexpected error occurred"}`.
 * - `503-html`: Cloudflare-style HTML error page (`text/html`).
 * - `truncated`: status 200, the real body cut in half (Content-Length matches the half).
 * - `drop`: headers and half the body sent, then the socket is destroyed.
 * - `none`: (only in `failNext`) let this request through untouched.
 */
export const FAULT_KINDS = ['429', '500', '503-html', 'truncated', 'drop', 'none'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultOptions {
  /** PRNG seed for rates and jitter (default 1). `setFaults` restarts the sequence. */
  seed?: number;
  /** Added to every matching request. */
  latencyMs?: number;
  /** Uniform extra delay in [0, jitterMs). */
  jitterMs?: number;
  rate429?: number;
  /** `Retry-After` on injected 429s: seconds, a raw header value (e.g. an HTTP-date), or none. */
  retryAfter?: number | string | null;
  rate500?: number;
  rate503Html?: number;
  rateTruncated?: number;
  rateDrop?: number;
  /** The next matching requests get exactly these faults, in order, before any rate applies. */
  failNext?: FaultKind[];
  /** Only requests whose path matches (substring or RegExp; any of a list) get faults or latency. */
  paths?: string | RegExp | (string | RegExp)[];
  /** Every matching answer's body is sent this way (see BODY_FAULT_KINDS). */
  bodyFault?: BodyFaultKind;
  dripIntervalMs?: number;
  oversizeBytes?: number;
  lyingLength?: number;
  /**
   * Every `description` string in matching API (JSON) answers is padded to this many
   * characters: a hostile or broken API with a 10 MB model description in every body.
   */
  descriptionChars?: number;
}

export type FaultCounts = Record<Exclude<FaultKind, 'none'>, number>;

/**
 * How the body of every matching answer is sent (whatever its status), for deadlines and
 * size caps; `paths` applies. Separate from the faults above, which pick one request at a time.
 *
 * - `drip`: the real body, one byte every `dripIntervalMs` (default 200), with its real Content-Length.
 * - `stall`: headers and the first half of the body, then nothing until the client goes away.
 * - `oversize`: the real body padded with zeros to `oversizeBytes` (default 600 MiB), Content-Length honest.
 * - `oversize-chunked`: the same without Content-Length (chunked).
 * - `lying-length`: Content-Length says `lyingLength` (default 1024) and `oversizeBytes` bytes follow anyway.
 * - `gzip-bomb`: `oversizeBytes` of zeros gzipped: a small honest Content-Length, a huge body once decoded.
 *
 * Bytes handed to the socket and whether the client left early are in the request's record
 * (`bodyBytesSent`, `clientClosedEarly`).
 */
export const BODY_FAULT_KINDS = ['drip', 'stall', 'oversize', 'oversize-chunked', 'lying-length', 'gzip-bomb'] as const;
export type BodyFaultKind = (typeof BODY_FAULT_KINDS)[number];

export interface FaultDecision {
  fault: FaultKind;
  delayMs: number;
}

export class FaultInjector {
  private options: FaultOptions = {};
  private queue: FaultKind[] = [];
  private prng: Prng = createPrng(1);
  readonly counts: FaultCounts = { '429': 0, '500': 0, '503-html': 0, truncated: 0, drop: 0 };

  constructor(options: FaultOptions = {}) {
    this.set(options);
  }

  set(options: FaultOptions): void {
    this.options = { ...options };
    this.queue = [...(options.failNext ?? [])];
    this.prng = createPrng(options.seed ?? 1);
  }

  get retryAfter(): number | string | null | undefined {
    return this.options.retryAfter;
  }

  /** The body fault and its settings for this path, if any. */
  bodyFault(path: string): { kind: BodyFaultKind; dripIntervalMs: number; oversizeBytes: number; lyingLength: number } | undefined {
    const o = this.options;
    if (o.bodyFault === undefined || !this.matches(path)) return undefined;
    return {
      kind: o.bodyFault,
      dripIntervalMs: o.dripIntervalMs ?? 200,
      oversizeBytes: o.oversizeBytes ?? 600 * 1024 * 1024,
      lyingLength: o.lyingLength ?? 1024,
    };
  }

  /** The padded length of `description` strings for this path, if any. */
  descriptionChars(path: string): number | undefined {
    const chars = this.options.descriptionChars;
    return chars !== undefined && chars > 0 && this.matches(path) ? chars : undefined;
  }

  matches(path: string): boolean {
    const filter = this.options.paths;
    if (filter === undefined) return true;
    const list = Array.isArray(filter) ? filter : [filter];
    return list.some((p) => (typeof p === 'string' ? path.includes(p) : p.test(path)));
  }

  decide(path: string): FaultDecision {
    if (!this.matches(path)) return { fault: 'none', delayMs: 0 };
    const o = this.options;
    let delayMs = o.latencyMs ?? 0;
    if (o.jitterMs) delayMs += Math.floor(this.prng.next() * o.jitterMs);
    let fault: FaultKind = 'none';
    const scripted = this.queue.shift();
    if (scripted !== undefined) {
      fault = scripted;
    } else {
      const rates: [FaultKind, number | undefined][] = [
        ['429', o.rate429],
        ['500', o.rate500],
        ['503-html', o.rate503Html],
        ['truncated', o.rateTruncated],
        ['drop', o.rateDrop],
      ];
      if (rates.some(([, r]) => (r ?? 0) > 0)) {
        const roll = this.prng.next();
        let acc = 0;
        for (const [kind, rate] of rates) {
          acc += rate ?? 0;
          if (roll < acc) {
            fault = kind;
            break;
          }
        }
      }
    }
    if (fault !== 'none') this.counts[fault] += 1;
    return { fault, delayMs };
  }
}
