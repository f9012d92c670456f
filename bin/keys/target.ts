/**
 * Which key table `npm run keys` talks to: the running local stack (`--local`, from the
 * `.axon/local.json` that `npm start` writes), any DynamoDB endpoint (`--endpoint`, e.g.
 * dynalite), or the table of a deployed stage, found from its CloudFormation output.
 */
import { readFileSync } from 'node:fs';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { AdminError } from '#authorizer/admin';
import {
  createDocumentClient,
  createDynamoClient,
  type DynamoClientOptions,
  LOCAL_KEYS_TABLE,
} from '#authorizer/key-store';
import { stateDir, stateFile } from '#local/state';
import { OUTPUTS, stackName } from '#shared/names';

export interface Target {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** For messages: where the table lives. */
  readonly where: string;
  /** How `client` was made: a low-level client for the same place (`usage`) is made from it. */
  readonly clientOptions: DynamoClientOptions;
  /** A deployed stage's name and region, when the table is one (for its other outputs). */
  readonly stage?: { readonly name: string; readonly region: string | undefined };
  /** The local stack's Usage table and limiter Redis, when it has them (`usage --local`). */
  readonly local?: { readonly usageTable?: string; readonly limiterRedisUrl?: string };
}

export interface TargetOptions {
  readonly local?: boolean;
  readonly endpoint?: string;
  readonly table?: string;
  readonly stage?: string;
  readonly region?: string;
  /** The local stack's state dir. @default `stateDir()`: `$AXON_STATE_DIR`, else `.axon/` here */
  readonly stateDir?: string;
}

/** The data stack's output naming the table: the same name lib/ exports it under. */
const TABLE_OUTPUT = OUTPUTS.apiKeysTableName;

interface LocalState {
  readonly dynamodbEndpoint: string;
  readonly keysTable: string;
  readonly region?: string;
  readonly usageTable?: string;
  readonly limiterRedisUrl?: string;
}

function readLocalState(dir: string): LocalState {
  const path = stateFile(dir);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new AdminError('no local stack is running: start one with npm start, or pass --endpoint');
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new AdminError(`${path} is not valid JSON; restart the local stack with npm start`);
  }
  const state = doc as Partial<LocalState> | null;
  if (typeof state?.dynamodbEndpoint !== 'string' || typeof state.keysTable !== 'string') {
    throw new AdminError(
      `${path} lacks dynamodbEndpoint or keysTable; restart the local stack with npm start`,
    );
  }
  return {
    dynamodbEndpoint: state.dynamodbEndpoint,
    keysTable: state.keysTable,
    ...(typeof state.region === 'string' && { region: state.region }),
    ...(typeof state.usageTable === 'string' && { usageTable: state.usageTable }),
    ...(typeof state.limiterRedisUrl === 'string' && { limiterRedisUrl: state.limiterRedisUrl }),
  };
}

function checkEndpoint(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new AdminError(
      `--endpoint must be a URL such as http://127.0.0.1:4567, got ${JSON.stringify(endpoint)}`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AdminError(
      `--endpoint must be an http:// or https:// URL, got ${JSON.stringify(endpoint)}`,
    );
  }
  return endpoint;
}

export async function resolveTarget(options: TargetOptions): Promise<Target> {
  if (options.local) {
    const state = readLocalState(options.stateDir ?? stateDir());
    const clientOptions = {
      endpoint: checkEndpoint(state.dynamodbEndpoint),
      maxAttempts: 1,
      ...(state.region && { region: state.region }),
    };
    return {
      client: createDocumentClient(clientOptions),
      clientOptions,
      tableName: options.table ?? state.keysTable,
      where: `the local stack (${state.dynamodbEndpoint})`,
      local: {
        ...(state.usageTable && { usageTable: state.usageTable }),
        ...(state.limiterRedisUrl && { limiterRedisUrl: state.limiterRedisUrl }),
      },
    };
  }
  if (options.endpoint !== undefined) {
    const clientOptions = {
      endpoint: checkEndpoint(options.endpoint),
      maxAttempts: 1,
      ...(options.region && { region: options.region }),
    };
    return {
      client: createDocumentClient(clientOptions),
      clientOptions,
      tableName: options.table ?? LOCAL_KEYS_TABLE,
      where: options.endpoint,
    };
  }
  const stage = options.stage ?? 'dev';
  const region = options.region;
  const tableName = options.table ?? (await outputOfStack(stage, region, TABLE_OUTPUT));
  const clientOptions = region ? { region } : {};
  return {
    client: createDocumentClient(clientOptions),
    clientOptions,
    tableName,
    where: `stage ${stage}${region ? ` in ${region}` : ''}`,
    stage: { name: stage, region },
  };
}

/**
 * Where `usage` reads: `--usage-table`, else the local stack's Usage table, else a deployed
 * stage's (the Data stack's output).
 */
export async function usageTableOf(
  target: Target,
  usageTable: string | undefined,
): Promise<{ client: DynamoDBClient; tableName: string }> {
  let tableName = usageTable ?? target.local?.usageTable;
  if (tableName === undefined) {
    if (!target.stage) {
      throw new AdminError(
        'usage reads the Usage table the usage exporter fills: pass --usage-table <name>, or use --local or a deployed --stage',
      );
    }
    tableName = await outputOfStack(target.stage.name, target.stage.region, OUTPUTS.usageTableName);
  }
  return { client: createDynamoClient(target.clientOptions), tableName };
}

/** Loaded only here, so local use never pays for the CloudFormation client. */
async function outputOfStack(
  stage: string,
  region: string | undefined,
  outputKey: string,
): Promise<string> {
  const { CloudFormationClient, DescribeStacksCommand } = await import(
    '@aws-sdk/client-cloudformation'
  );
  const client = new CloudFormationClient(region ? { region } : {});
  const dataStack = stackName(stage, 'Data');
  try {
    const { Stacks = [] } = await client.send(new DescribeStacksCommand({ StackName: dataStack }));
    const output = Stacks[0]?.Outputs?.find((candidate) => candidate.OutputKey === outputKey);
    if (!output?.OutputValue) {
      const flag = outputKey === TABLE_OUTPUT ? '--table' : '--usage-table';
      throw new AdminError(`stack ${dataStack} has no ${outputKey} output; pass ${flag} <name>`);
    }
    return output.OutputValue;
  } catch (err) {
    if (err instanceof AdminError) throw err;
    if (err instanceof Error && err.name === 'ValidationError') {
      throw new AdminError(
        `stack ${dataStack} not found${region ? ` in ${region}` : ''}: deploy it, or pass --stage, --region or --table`,
      );
    }
    throw err;
  } finally {
    client.destroy();
  }
}
