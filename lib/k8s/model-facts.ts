/**
 * What synth needs to know to say whether a model fits its GPU without downloading it: a small
 * table of the models this project has served, keyed by Hugging Face id (a stage can describe any
 * other model with `models[].architecture`). GPU memory comes from lib/k8s/instance-types.ts.
 *
 * The fit estimate is the one vLLM itself enforces at start: the weights, plus a KV cache that
 * holds at least one sequence of `max_model_len` tokens, plus the CUDA context and activation
 * workspace, must fit in `gpu_memory_utilization` of the GPU memory. It is deliberately a lower
 * bound (it ignores batching): a model that fails it never starts; one that passes it starts and
 * serves at least one full-length request.
 */

export type WeightDtype = 'bfloat16' | 'float16' | 'float32';

export interface ModelArchitecture {
  /** Parameter count in billions (the model card's number, e.g. 8.03 for Llama 3.1 8B). */
  readonly parametersBillions: number;
  /** Transformer layers (`num_hidden_layers` in config.json). */
  readonly layers: number;
  /** Key/value heads (`num_key_value_heads`; fewer than attention heads with GQA). */
  readonly kvHeads: number;
  /** Size of one attention head (`head_dim`, or hidden_size / num_attention_heads). */
  readonly headDim: number;
  /** Dtype of the published weights, what vLLM's `dtype: auto` loads. */
  readonly dtype: WeightDtype;
  /** Longest context the model supports (`max_position_embeddings`). */
  readonly maxContext: number;
  /** Whether Hugging Face requires an accepted license and a token to download it. */
  readonly gated: boolean;
}

/** From each model's config.json and model card on huggingface.co. */
export const KNOWN_MODELS: Readonly<Record<string, ModelArchitecture>> = {
  'Qwen/Qwen2.5-0.5B-Instruct': {
    parametersBillions: 0.494,
    layers: 24,
    kvHeads: 2,
    headDim: 64,
    dtype: 'bfloat16',
    maxContext: 32768,
    gated: false,
  },
  'Qwen/Qwen2.5-7B-Instruct': {
    parametersBillions: 7.62,
    layers: 28,
    kvHeads: 4,
    headDim: 128,
    dtype: 'bfloat16',
    maxContext: 32768,
    gated: false,
  },
  'meta-llama/Llama-3.1-8B-Instruct': {
    parametersBillions: 8.03,
    layers: 32,
    kvHeads: 8,
    headDim: 128,
    dtype: 'bfloat16',
    maxContext: 131072,
    gated: true,
  },
};

const GIB = 1024 ** 3;
const BYTES: Record<string, number> = {
  bfloat16: 2,
  float16: 2,
  half: 2,
  float32: 4,
  float: 4,
  fp8: 1,
  fp8_e4m3: 1,
  fp8_e5m2: 1,
};

/** CUDA context, NCCL and vLLM's activation workspace: what vLLM's profiling run typically takes. */
export const RUNTIME_OVERHEAD_GIB = 1.5;

export interface GpuMemoryNeed {
  readonly weightsGiB: number;
  readonly kvCacheGiB: number;
  readonly totalGiB: number;
}

/** GPU memory one replica needs to serve one sequence of `contextWindow` tokens. */
export function gpuMemoryNeed(
  arch: ModelArchitecture,
  contextWindow: number,
  engineArgs: Readonly<Record<string, unknown>>,
): GpuMemoryNeed {
  const dtype = String(engineArgs.dtype ?? 'auto');
  const weightBytes = BYTES[dtype] ?? BYTES[arch.dtype] ?? 2;
  const kvDtype = String(engineArgs.kv_cache_dtype ?? 'auto');
  const kvBytes = BYTES[kvDtype] ?? weightBytes;
  const weightsGiB = (arch.parametersBillions * 1e9 * weightBytes) / GIB;
  // Keys and values (2) for every layer, KV head and head dimension, per token.
  const kvCacheGiB =
    (2 * arch.layers * arch.kvHeads * arch.headDim * kvBytes * contextWindow) / GIB;
  return { weightsGiB, kvCacheGiB, totalGiB: weightsGiB + kvCacheGiB + RUNTIME_OVERHEAD_GIB };
}
