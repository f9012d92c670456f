/**
 * Which models exist (Triton's repository index, cached briefly), which of them the calling key
 * may use (the gateway's `x-axon-models`), and how to talk to each one (chat template, context
 * window, default max_tokens from MODELS_CONFIG). A model that does not exist and a model the key
 * may not use are the same 404 `model_not_found`, so a key cannot tell them apart; a known model
 * that is not READY is Triton's problem (503). While Triton sleeps (scaled to zero, see
 * waking.ts) the models MODELS_CONFIG names stand in for the index, uncached, so they are listed
 * and a request for one goes on to wake Triton.
 */

import { InferenceUnavailableError } from '@axon/runtime/errors';
import { type Static, Type } from 'typebox';
import { Compile } from 'typebox/compile';
import { type ChatTemplate, TEMPLATE_NAMES, TEMPLATES } from './chat-template.ts';
import { allows, type ModelAccess, ModelNotFoundError } from './model-access.ts';
import type { RepositoryModel } from './triton-client.ts';
import { ModelStartingError } from './waking.ts';

export { type ModelAccess, ModelNotFoundError };

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

  /** READY models the key may use: what `GET /v1/models` lists. */
  async ready(access: ModelAccess): Promise<RepositoryModel[]> {
    return (await this.all()).filter((m) => m.state === 'READY' && allows(access, m.name));
  }

  /**
   * The settings for `model`, after checking the key may use it and Triton serves it. `access`
   * is required so that no route can forget the key's models.
   */
  async resolve(model: string, access: ModelAccess): Promise<ModelSettings> {
    // Refused before the index is read or demand is counted: a model the key may not use never
    // wakes Triton, and a restricted key takes this path for every name outside its list,
    // whether the model exists or not.
    if (!allows(access, model)) throw new ModelNotFoundError(model);
    const entry = (await this.all()).find((m) => m.name === model);
    if (!entry) throw new ModelNotFoundError(model);
    // Counted once the model is known, so a made-up name neither wakes Triton nor adds a series.
    this.onDemand?.(model);
    if (entry.state !== 'READY') throw new InferenceUnavailableError();
    return modelSettings(this.config, model);
  }

  /**
   * The model a session gets when it names none: the first READY model the key may use, by
   * name. A key none of whose models is READY gets its first model by name, resolved (404 if it
   * does not exist, 503 while it is not READY), rather than a model outside its list.
   */
  async defaultModel(access: ModelAccess): Promise<string> {
    const names = (await this.ready(access)).map((m) => m.name).sort();
    const first = names[0] ?? (access === undefined ? undefined : [...access].sort()[0]);
    if (first === undefined) throw new InferenceUnavailableError();
    if (names[0] === undefined) await this.resolve(first, access);
    return first;
  }
}
