/**
 * Runs a Dockerfile's recipe without a Docker engine, which this machine and CI do not have:
 * each stage gets a folder standing in for its filesystem root; `COPY` takes files from the
 * build context after `.dockerignore` (read with @balena/dockerignore, the matcher the CDK uses
 * to fingerprint a DockerImageAsset) or from an earlier stage; `RUN` runs its npm command there
 * with the same flags, `npm ci` offline from the local npm cache. What it cannot stand in for is
 * the base image: the host's node runs the commands. It understands the instructions the
 * project's Dockerfiles use and refuses any other, so a recipe it cannot follow fails loudly.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
} from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import dockerignore from '@balena/dockerignore';
import { freePort, waitFor } from './redis.ts';

const run = promisify(execFile);

export interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

export interface Stage {
  readonly name?: string;
  readonly instructions: Instruction[];
}

/** Stages and their instructions; comments dropped, `\` continuations joined. */
export function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    logical.push(pending + line);
    pending = '';
  }
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const upper = keyword.toUpperCase();
    if (upper === 'FROM') {
      const name = /\sAS\s+(\S+)$/i.exec(args)?.[1];
      stages.push({ ...(name && { name }), instructions: [] });
    } else if (upper !== 'ARG' || stages.length > 0) {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`${upper} before the first FROM`);
      stage.instructions.push({ keyword: upper, args });
    }
  }
  return stages;
}

/** Every file of the build context that `.dockerignore` lets through, relative to the context. */
export function contextFiles(contextDir: string): string[] {
  const ignorePath = join(contextDir, '.dockerignore');
  const rules = existsSync(ignorePath) ? readFileSync(ignorePath, 'utf8') : '';
  const lines = rules.split('\n').map((line) => line.trim());
  const ignored = dockerignore().add(lines);
  // A folder the rules exclude is still entered when a `!` rule may let in something below it.
  const reincluded = lines.filter((l) => l.startsWith('!')).map((l) => l.slice(1));
  const mayHoldAllowed = (rel: string) =>
    !ignored.ignores(rel) ||
    reincluded.some((p) => p.startsWith(`${rel}/`) || /[*?[]/.test(p.split('/')[0] ?? ''));
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const rel = relative(contextDir, path);
      if (entry.isDirectory()) {
        if (entry.name !== '.git' && mayHoldAllowed(rel)) walk(path);
      } else if (!ignored.ignores(rel)) {
        files.push(rel);
      }
    }
  };
  walk(contextDir);
  return files.sort();
}

export interface RecipeRun {
  /** Where the final stage's WORKDIR lies on this machine. */
  readonly workdir: string;
  /** The final stage's `ENV`. */
  readonly env: Record<string, string>;
  /** The final stage's `CMD`, exec form. */
  readonly cmd: string[];
}

/** Splits `COPY [--from=x] src... dest` into its parts. */
function copyArgs(args: string): { from?: string; sources: string[]; dest: string } {
  const words = args.split(/\s+/).filter(Boolean);
  const from = words[0]?.startsWith('--from=') ? words.shift()?.slice('--from='.length) : undefined;
  if (words.some((w) => w.startsWith('--'))) throw new Error(`unsupported COPY flag in: ${args}`);
  const dest = words.pop();
  if (!dest || words.length === 0) throw new Error(`COPY needs a source and a dest: ${args}`);
  return { ...(from && { from }), sources: words, dest };
}

/**
 * Runs `dockerfile` with `contextDir` as its build context inside `scratchDir`; resolves to what
 * the final stage would run. Throws where `docker build` would fail: a source missing from the
 * context (or excluded by .dockerignore), a failing command.
 */
export async function runRecipe(
  dockerfile: string,
  contextDir: string,
  scratchDir: string,
  env: NodeJS.ProcessEnv,
): Promise<RecipeRun> {
  const stages = parseDockerfile(readFileSync(dockerfile, 'utf8'));
  const allowed = new Set(contextFiles(contextDir));
  const roots = stages.map((_, index) => join(scratchDir, `stage-${index}`));
  const indexOf = (name: string, before: number) => {
    const found = stages.findIndex((s, i) => s.name === name || String(i) === name);
    if (found < 0 || found >= before) throw new Error(`COPY --from=${name}: no earlier stage`);
    return found;
  };
  // Stages run as soon as the stages they copy from are done, as BuildKit runs them: the
  // build and the production install do not wait for each other.
  const done: Promise<RecipeRun>[] = [];
  for (const [index, stage] of stages.entries()) {
    const needs = stage.instructions
      .filter((i) => i.keyword === 'COPY' && i.args.startsWith('--from='))
      .map((i) => done[indexOf(copyArgs(i.args).from ?? '', index)]);
    done.push(
      Promise.all(needs).then(() =>
        runStage(stage, index, roots, (name) => indexOf(name, index), contextDir, allowed, env),
      ),
    );
  }
  // A stage nothing copies from still runs and must succeed: stricter than BuildKit, which
  // skips it.
  const results = await Promise.all(done);
  const result = results.at(-1);
  if (!result) throw new Error(`${dockerfile} has no stage`);
  return result;
}

/** Runs one stage in its own folder; earlier stages it copies from are complete. */
async function runStage(
  stage: Stage,
  index: number,
  roots: string[],
  stageIndex: (name: string) => number,
  contextDir: string,
  allowed: ReadonlySet<string>,
  env: NodeJS.ProcessEnv,
): Promise<RecipeRun> {
  const root = roots[index] ?? '';
  mkdirSync(root, { recursive: true });
  let workdir = '/';
  const stageEnv: Record<string, string> = {};
  let cmd: string[] = [];
  const inStage = (path: string) => join(root, path.startsWith('/') ? path : join(workdir, path));
  for (const { keyword, args } of stage.instructions) {
    if (keyword === 'WORKDIR') {
      workdir = args.startsWith('/') ? args : join(workdir, args);
      mkdirSync(inStage(workdir), { recursive: true });
    } else if (keyword === 'COPY') {
      const { from, sources, dest } = copyArgs(args);
      const target = inStage(dest);
      const intoDir = dest.endsWith('/') || sources.length > 1;
      for (const source of sources) {
        let origin: string;
        if (from !== undefined) {
          origin = join(roots[stageIndex(from)] ?? '', source);
        } else {
          const files = [...allowed].filter((f) => f === source || f.startsWith(`${source}/`));
          if (files.length === 0) {
            throw new Error(
              `COPY ${source}: not in the build context or excluded by .dockerignore`,
            );
          }
          origin = join(contextDir, source);
        }
        if (!existsSync(origin)) throw new Error(`COPY ${source}: not found`);
        const isDir = lstatSync(origin).isDirectory();
        const to = intoDir && !isDir ? join(target, basename(source)) : target;
        if (from !== undefined) {
          linkTree(origin, to);
        } else {
          cpSync(origin, to, {
            recursive: true,
            // From the context, only what .dockerignore lets through.
            filter: (path) =>
              lstatSync(path).isDirectory() || allowed.has(relative(contextDir, path)),
          });
        }
      }
    } else if (keyword === 'RUN') {
      for (const command of args.split('&&').map((c) => c.trim())) {
        const words = command.split(/\s+/);
        if (words[0] !== 'npm') throw new Error(`RUN ${command}: only npm commands are run here`);
        // The image's install hits the registry; here it comes from the local cache.
        if (words[1] === 'ci') words.splice(2, 0, '--offline');
        await run('npm', words.slice(1), {
          cwd: inStage(workdir),
          env: { ...env, ...stageEnv },
          maxBuffer: 16 * 1024 * 1024,
        }).catch((error: { stdout?: string; stderr?: string }) => {
          // What the compiler or npm said, not only that the command failed.
          throw new Error(`RUN ${command} failed:\n${error.stdout ?? ''}\n${error.stderr ?? ''}`);
        });
      }
    } else if (keyword === 'ENV') {
      for (const [, name = '', value = ''] of args.matchAll(/(\w+)=(\S+)/g)) stageEnv[name] = value;
    } else if (keyword === 'CMD') {
      cmd = JSON.parse(args) as string[];
    } else if (!['ARG', 'USER', 'EXPOSE', 'HEALTHCHECK', 'LABEL'].includes(keyword)) {
      throw new Error(`${keyword}: not an instruction this stand-in knows`);
    }
  }
  return { workdir: inStage(workdir), env: stageEnv, cmd };
}

/**
 * `COPY --from` between stages as hard links: the same bytes as a copy, without writing tens of
 * thousands of node_modules files again. Symlinks (npm's workspace links) stay symlinks.
 */
function linkTree(from: string, to: string): void {
  const stat = lstatSync(from);
  if (stat.isDirectory()) {
    mkdirSync(to, { recursive: true });
    for (const entry of readdirSync(from)) linkTree(join(from, entry), join(to, entry));
  } else {
    mkdirSync(dirname(to), { recursive: true });
    if (stat.isSymbolicLink()) symlinkSync(readlinkSync(from), to);
    else linkSync(from, to);
  }
}

export interface BuiltImageOptions {
  readonly dockerfile: string;
  /** The build context. */
  readonly contextDir: string;
  /** Where the stages' folders go; the caller removes it. */
  readonly scratchDir: string;
  /** Environment of the recipe's npm commands. */
  readonly buildEnv: NodeJS.ProcessEnv;
  /** The container's environment beyond the image's `ENV`, `PATH`, `PORT` and `HOST`. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The path that answers 2xx once the server is ready. */
  readonly readyPath: string;
  /** What the server is, for the error when it never gets ready ("the built <what> …"). */
  readonly what: string;
}

export interface BuiltImage {
  /** What the recipe's final stage runs. */
  readonly image: RecipeRun;
  /** The running CMD. */
  readonly server: ChildProcess;
  /** `http://127.0.0.1:<port>` */
  readonly base: string;
  /** Resolves to the exit code once the server has exited. */
  readonly exited: Promise<number | null>;
  /** All the server has written to stdout and stderr so far. */
  output(): string;
}

/**
 * Builds the image from its recipe (`runRecipe`), then starts the final stage's CMD in its
 * WORKDIR as the container would, with the image's `ENV` and `options.env`, listening on a free
 * loopback port, and waits (30 s at most) until `readyPath` answers. When it never does, the
 * server is killed and the error carries what it printed. The caller stops the server.
 */
export async function startBuiltImage(options: BuiltImageOptions): Promise<BuiltImage> {
  const image = await runRecipe(
    options.dockerfile,
    options.contextDir,
    options.scratchDir,
    options.buildEnv,
  );
  const port = await freePort();
  const [command = '', ...args] = image.cmd;
  const server = spawn(command, args, {
    cwd: image.workdir,
    env: {
      PATH: process.env.PATH,
      ...image.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk;
  };
  server.stdout?.on('data', collect);
  server.stderr?.on('data', collect);
  const exited = new Promise<number | null>((resolve) => server.once('exit', resolve));
  const base = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => (await fetch(`${base}${options.readyPath}`)).ok,
    `the built ${options.what} to answer ${options.readyPath}`,
    30_000,
  ).catch((error: Error) => {
    server.kill('SIGKILL');
    throw new Error(`${error.message}\n${output}`);
  });
  return { image, server, base, exited, output: () => output };
}
