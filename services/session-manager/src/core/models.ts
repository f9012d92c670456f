/**
 * Which models exist (Triton's repository index, cached briefly) and how to talk to each one
 * (chat template, context window, default max_tokens from MODELS_CONFIG). An unknown model is
 * the caller's mistake (400); a known model that is not READY is Triton's problem (503). While
 * Triton sleeps (scaled to zero, see waking.ts) the models MODELS_CONFIG names stand in for the
 * index, uncached, so they are listed and a request for one goes on to wake Triton.
 */

import { InferenceUnavailableError, InvalidRequestError } from '@axon/runtime/errors';
import { type Static, Type } from 'typebox';
import { Compile } from 'typebox/compile';
import { type ChatTemplate, TEMPLATE_NAMES, TEMPLATES } from './chat-template.ts';
import type { RepositoryModel } from './triton-client.ts';
import { ModelStartingError } from './waking.ts';

const ModelSettingsSchema = Type.Object(
  {
    template: Type.Optional(Type.Enum([...TEMPLATE_NAMES])),
    contextWindow: Type.Optional(Type.Integer({ minimum: 16, maximum: 10_000_000 })),
    defaultMaxTokens: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);

export const ModelsConfigSchema = Type.Object(
  {
    default: Type.Optional(ModelSettingsSchema),
    models: Type.Optional(Type.Record(Type.String({ minLength: 1 }), ModelSettingsSchema)),
  },
  { additionalProperties: false },
);

export type ModelsConfig = Static<typeof ModelsConfigSchema>;

export interface ModelSettings {
  template: ChatTemplate;
  contextWindow: number;
  defaultMaxTokens: number;
}

export const DEFAULT_CONTEXT_WINDOW = 8192;
export const DEFAULT_MAX_TOKENS = 512;

const checkModelsConfig = Compile(ModelsConfigSchema);

/** Parses MODELS_CONFIG; the error names the field and what it must be. */
export function parseModelsConfig(json: string): ModelsConfig {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new Error(
      'MODELS_CONFIG must be a JSON object such as {"models":{"m":{"template":"llama3"}}}',
    );
  }
  const first = [...checkModelsConfig.Errors(value)][0];
  if (first) {
    throw new Error(
      `MODELS_CONFIG${first.instancePath || ''}: ${first.message} ` +
        `(fields: default, models.<name>.{template: ${TEMPLATE_NAMES.join('|')}, contextWindow, defaultMaxTokens})`,
    );
  }
  return value as ModelsConfig;
}

/** Settings for one model: its own entry, then `default`, then a guess from its name. */
export function modelSettings(config: ModelsConfig, model: string): ModelSettings {
  const own = config.models?.[model] ?? {};
  const fallback = config.default ?? {};
  const guessed = /llama[-_ .]?3/i.test(model) ? 'llama3' : 'chatml';
  const contextWindow = own.contextWindow ?? fallback.contextWindow ?? DEFAULT_CONTEXT_WINDOW;
  return {
    template: TEMPLATES[own.template ?? fallback.template ?? guessed],
    contextWindow,
    defaultMaxTokens: Math.min(
      own.defaultMaxTokens ?? fallback.defaultMaxTokens ?? DEFAULT_MAX_TOKENS,
      Math.floor(contextWindow / 2),
    ),
  };
}

export interface ModelIndexSource {
  repositoryIndex(signal?: AbortSignal): Promise<RepositoryModel[]>;
}

/**
 * Triton's repository index with a short cache, so each chat request does not cost an extra
 * round trip; concurrent refreshes share one request.
 */
export class ModelCatalog {
  private cached?: { at: number; models: RepositoryModel[] };
  private inflight?: Promise<RepositoryModel[]>;

  constructor(
    private readonly source: ModelIndexSource,
    private readonly config: ModelsConfig,
    private readonly cacheMs = 5_000,
    private readonly now: () => number = Date.now,
    /** Called for every request for a known model: the demand that wakes a sleeping Triton. */
    private readonly onDemand?: (model: string) => void,
  ) {}

  async all(): Promise<RepositoryModel[]> {
    try {
      return await this.index();
    } catch (error) {
      const configured = Object.keys(this.config.models ?? {});
      if (!(error instanceof ModelStartingError) || configured.length === 0) throw error;
      return configured.map((name) => ({ name, state: 'READY' }));
    }
  }

  private index(): Promise<RepositoryModel[]> {
    if (this.cached && this.now() - this.cached.at < this.cacheMs) {
      return Promise.resolve(this.cached.models);
    }
    this.inflight ??= this.source
      .repositoryIndex()
      .then((models) => {
        this.cached = { at: this.now(), models };
        return models;
      })
      .finally(() => {
        this.inflight = undefined;
      });
    return this.inflight;
  }

  /** READY models only: what `GET /v1/models` lists and chat requests may use. */
  async ready(): Promise<RepositoryModel[]> {
    return (await this.all()).filter((m) => m.state === 'READY');
  }

  /** The settings for `model`, after checking Triton serves it. */
  async resolve(model: string, field = 'model'): Promise<ModelSettings> {
    const entry = (await this.all()).find((m) => m.name === model);
    if (!entry) {
      throw new InvalidRequestError(
        'model_not_found',
        `${field}: the model '${model}' does not exist; GET /v1/models lists the available models.`,
      );
    }
    // Counted once the model is known, so a made-up name neither wakes Triton nor adds a series.
    this.onDemand?.(model);
    if (entry.state !== 'READY') throw new InferenceUnavailableError();
    return modelSettings(this.config, model);
  }

  /** The model a session gets when it names none: the first READY model, by name. */
  async defaultModel(): Promise<string> {
    const names = (await this.ready()).map((m) => m.name).sort();
    const first = names[0];
    if (first === undefined) throw new InferenceUnavailableError();
    return first;
  }
}
