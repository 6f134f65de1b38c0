/**
 * Byte builders for the sample library: safetensors files (8-byte little-endian header length,
 * JSON header, tensor bytes) and a PyTorch-style `.pt` zip. Everything is derived from a seeded
 * PRNG, so the same spec always gives the same bytes.
 */
import { crc32 } from 'node:zlib';
import { createPrng, prngBytes, seedFrom, type Prng } from '../fake-civitai/prng.ts';

export interface TensorSpec {
  name: string;
  dtype: 'F16' | 'F32';
  shape: number[];
}

const DTYPE_BYTES = { F16: 2, F32: 4 } as const;

function tensorByteLength(t: TensorSpec): number {
  return t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
}

/** Plausible small F16 values (no NaN/Inf): random sign, exponent 2^-10…2^-2, random mantissa. */
function f16Bytes(prng: Prng, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i + 2 <= length; i += 2) {
    const r = prng.nextU32();
    const sign = r & 1;
    const exponent = 5 + ((r >>> 1) % 9);
    const mantissa = (r >>> 8) & 0x3ff;
    out.writeUInt16LE((sign << 15) | (exponent << 10) | mantissa, i);
  }
  return out;
}

export type Architecture = 'lora-sd15' | 'lora-sdxl' | 'lora-flux' | 'lora-hunyuan' | 'checkpoint' | 'embedding';

/** Tensor names and shapes in the style of each kind of file, repeated until `targetBytes` is reached. */
export function tensorsFor(arch: Architecture, targetBytes: number): TensorSpec[] {
  const tensors: TensorSpec[] = [];
  let total = 0;
  const push = (t: TensorSpec): void => {
    tensors.push(t);
    total += tensorByteLength(t);
  };
  for (let i = 0; total < targetBytes; i += 1) {
    switch (arch) {
      case 'lora-sd15':
      case 'lora-sdxl': {
        const dim = arch === 'lora-sd15' ? 320 : 640;
        const rank = 8;
        const proj = ['q', 'k', 'v', 'out_0'][i % 4] ?? 'q';
        const block = Math.floor(i / 4) % 10;
        const attention = Math.floor(i / 40) % 2;
        const down = Math.floor(i / 80);
        const stem = `lora_unet_down_blocks_${down}_attentions_${attention}_transformer_blocks_${block}_attn1_to_${proj}`;
        push({ name: `${stem}.alpha`, dtype: 'F16', shape: [] });
        push({ name: `${stem}.lora_down.weight`, dtype: 'F16', shape: [rank, dim] });
        push({ name: `${stem}.lora_up.weight`, dtype: 'F16', shape: [dim, rank] });
        break;
      }
      case 'lora-flux': {
        const stem = `lora_unet_double_blocks_${i}_img_attn_qkv`;
        push({ name: `${stem}.alpha`, dtype: 'F16', shape: [] });
        push({ name: `${stem}.lora_down.weight`, dtype: 'F16', shape: [16, 3072] });
        push({ name: `${stem}.lora_up.weight`, dtype: 'F16', shape: [3072, 16] });
        break;
      }
      case 'lora-hunyuan': {
        const stem = `transformer.double_blocks.${i}.img_attn_qkv`;
        push({ name: `${stem}.lora_A.weight`, dtype: 'F16', shape: [4, 1024] });
        push({ name: `${stem}.lora_B.weight`, dtype: 'F16', shape: [1024, 4] });
        break;
      }
      case 'checkpoint': {
        const stem = `model.diffusion_model.input_blocks.${i + 1}.0`;
        push({ name: `${stem}.in_layers.2.weight`, dtype: 'F16', shape: [320, 320] });
        push({ name: `${stem}.in_layers.2.bias`, dtype: 'F16', shape: [320] });
        break;
      }
      case 'embedding':
        push({ name: i === 0 ? 'emb_params' : `emb_params_${i}`, dtype: 'F16', shape: [8, 768] });
        break;
    }
  }
  return tensors;
}

/** Tensor data only: what kohya's `sshs_model_hash` and CivitAI's AutoV3 hash. */
export function tensorData(tensors: TensorSpec[], seed: string): Buffer {
  const prng = createPrng(seedFrom(seed));
  return Buffer.concat(
    tensors.map((t) => (t.dtype === 'F16' ? f16Bytes(prng, tensorByteLength(t)) : prngBytes(prng, tensorByteLength(t)))),
  );
}

/** A complete safetensors file. The header is space-padded to a multiple of 8, like the reference writer. */
export function buildSafetensors(
  tensors: TensorSpec[],
  data: Buffer,
  metadata: Record<string, string> | undefined,
): Buffer {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const length = tensorByteLength(t);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + length] };
    offset += length;
  }
  if (offset !== data.length) throw new Error(`tensor data is ${data.length} bytes, header says ${offset}`);
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, data]);
}

/** An uncompressed ("stored") zip, the container PyTorch uses for `.pt` files since 1.6. */
export function buildStoredZip(entries: { name: string; data: Buffer }[]): Buffer {
  // Fixed DOS timestamp (2023-03-19 18:54:54) so the bytes never depend on the clock.
  const dosTime = (18 << 11) | (54 << 5) | (54 >> 1);
  const dosDate = ((2023 - 1980) << 9) | (3 << 5) | 19;
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const crc = crc32(entry.data) >>> 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0, 6);
    local.writeUInt16LE(0, 8);
    local.writeUInt16LE(dosTime, 10);
    local.writeUInt16LE(dosDate, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(entry.data.length, 18);
    local.writeUInt32LE(entry.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0, 8);
    central.writeUInt16LE(0, 10);
    central.writeUInt16LE(dosTime, 12);
    central.writeUInt16LE(dosDate, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(entry.data.length, 20);
    central.writeUInt32LE(entry.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, entry.data);
    centrals.push(central, name);
    offset += local.length + name.length + entry.data.length;
  }
  const centralDir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralDir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, centralDir, end]);
}

/** A small textual-inversion `.pt`: pickle stub + one F32 tensor, in PyTorch's zip layout. */
export function buildTorchEmbedding(stem: string, vectors: number, seed: string): Buffer {
  const pickle = Buffer.concat([
    Buffer.from([0x80, 0x02]),
    Buffer.from(
      `}q\u0000(X\u000f\u0000\u0000\u0000string_to_tokenq\u0001}q\u0002X\u0001\u0000\u0000\u0000*q\u0003M\u0009\u0001s` +
        `X\u000f\u0000\u0000\u0000string_to_paramq\u0004}q\u0005X\u0001\u0000\u0000\u0000*q\u0006ctorch._utils\n_rebuild_tensor_v2\nq\u0007` +
        `X\u0004\u0000\u0000\u0000nameq\u0008X${String.fromCharCode(stem.length)}\u0000\u0000\u0000${stem}q\u0009X\u0004\u0000\u0000\u0000stepq\nM\u0000\u0019u.`,
      'latin1',
    ),
  ]);
  const prng = createPrng(seedFrom(seed));
  return buildStoredZip([
    { name: `${stem}/data.pkl`, data: pickle },
    { name: `${stem}/data/0`, data: prngBytes(prng, vectors * 768 * 4) },
    { name: `${stem}/version`, data: Buffer.from('3\n') },
  ]);
}
