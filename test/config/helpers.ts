import { expect } from 'vitest';
import { ConfigError, parseConfig } from '../../src/integration/engine/config/index.ts';
import type { LoadedConfig } from '../../src/integration/engine/config/index.ts';

export const FIXTURES = new URL('../fixtures/configs/', import.meta.url).pathname;
export const HOME = '/home/tester';
export const CONFIG_DIR = '/srv/library';
export const CONFIG_FILE = `${CONFIG_DIR}/civitscraper.yaml`;

/** Strips the common indentation so YAML can be written inline in tests. */
export function yaml(strings: TemplateStringsArray, ...values: unknown[]): string {
  const text = strings.reduce((out, part, index) => out + part + (index < values.length ? String(values[index]) : ''), '');
  const lines = text.replace(/^\n/, '').split('\n');
  const indents = lines.filter((line) => line.trim() !== '').map((line) => /^ */.exec(line)?.[0].length ?? 0);
  const indent = Math.min(...indents);
  return lines.map((line) => line.slice(indent)).join('\n');
}

export function parse(text: string, env: Record<string, string | undefined> = {}): LoadedConfig {
  return parseConfig(text, CONFIG_FILE, { cwd: '/somewhere/else', env, homeDir: HOME });
}

/** Runs `fn`, asserts it throws a ConfigError and returns it. */
export function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError, but nothing was thrown');
}

export async function configErrorAsync(promise: Promise<unknown>): Promise<ConfigError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError, but nothing was thrown');
}

export const MINIMAL = yaml`
  input_paths:
    loras:
      path: /models/Lora
      type: LORA
`;
