/**
 * The network layer for the sources other than the CivitAI client: the same HttpClient, so
 * CivArchive and hand-linked versions get the same deadlines, body caps, retries, rate budget
 * and key rules (the key goes only to URLs below `baseUrl`, so never to CivArchive).
 */
import type { ApiConfig } from '../config/schema.ts';
import { HttpClient } from '../civitai/http.ts';

export function sourceHttp(api: ApiConfig, options: { baseUrl: string; withKey: boolean; signal?: AbortSignal; maxRetries?: number }): HttpClient {
  return new HttpClient({
    apiBaseUrl: options.baseUrl.replace(/\/+$/, ''),
    ...(options.withKey && api.key ? { apiKey: api.key } : {}),
    userAgent: api.user_agent,
    timeoutMs: api.timeout * 1000,
    ...(options.signal ? { signal: options.signal } : {}),
    maxRetries: options.maxRetries ?? api.max_retries,
    retryDelayMs: api.batch.retry_delay,
    requestsPerMinute: api.batch.rate_limit,
    maxConcurrent: api.batch.max_concurrent,
    breakerThreshold: api.batch.circuit_breaker.failure_threshold,
    breakerResetMs: api.batch.circuit_breaker.reset_timeout * 1000,
  });
}
