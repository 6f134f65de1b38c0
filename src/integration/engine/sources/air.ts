/**
 * AIR identifiers (`urn:air:{ecosystem}:{type}:civitai:{modelId}@{versionId}`): the version's
 * own `air` when CivitAI sent one, else built from its base model and the model type with
 * CivitAI's mapping (LORA → lora, LoCon → lycoris, TextualInversion → embedding, …).
 */
import type { Model, ModelVersion } from '../civitai/schemas.ts';

const ECOSYSTEMS: [RegExp, string][] = [
  [/^SD 1/i, 'sd1'],
  [/^SD 2/i, 'sd2'],
  [/^SD 3/i, 'sd3'],
  [/^(SDXL|Pony|Illustrious|NoobAI)/i, 'sdxl'],
  [/^Flux/i, 'flux1'],
  [/^Hunyuan Video/i, 'hyv1'],
];

const TYPES: Record<string, string> = {
  LORA: 'lora',
  LoCon: 'lycoris',
  DoRA: 'lycoris',
  TextualInversion: 'embedding',
  Checkpoint: 'checkpoint',
  VAE: 'vae',
  Hypernetwork: 'hypernet',
  Controlnet: 'controlnet',
  AestheticGradient: 'ag',
  Upscaler: 'upscaler',
  MotionModule: 'motion',
};

export function airOf(version: ModelVersion, model?: Model): string | undefined {
  if (typeof version.air === 'string' && version.air.startsWith('urn:air:')) return version.air;
  const modelId = version.modelId ?? model?.id;
  if (!modelId) return undefined;
  const ecosystem = ECOSYSTEMS.find(([pattern]) => pattern.test(version.baseModel ?? ''))?.[1] ?? 'other';
  const type = TYPES[version.model?.type ?? model?.type ?? ''] ?? 'other';
  return `urn:air:${ecosystem}:${type}:civitai:${modelId}@${version.id}`;
}
