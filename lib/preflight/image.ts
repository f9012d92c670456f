/**
 * The Triton image of the stage (`triton.image`) must exist in its registry. A tag that does not
 * exist fails only when the first GPU node has booted and the kubelet tries to pull it
 * (ErrImagePull, then ImagePullBackOff), which is long after the deploy reported success.
 *
 * The check speaks the registry API every Docker and OCI client uses, anonymously, as the nodes
 * do for a public image:
 *  1. HEAD /v2/<repository>/manifests/<tag or digest>, with an Accept header listing the OCI image
 *     index, Docker manifest list, OCI manifest and Docker v2 manifest media types (OCI
 *     distribution spec "Pulling manifests": a HEAD answers 200 when the manifest exists and 404
 *     (MANIFEST_UNKNOWN) when it does not; a registry returns only a type the client accepts).
 *  2. A registry that wants a token answers 401 with `WWW-Authenticate: Bearer realm=...,
 *     service=...,scope=...` (Docker Registry token authentication spec, also CNCF Distribution
 *     "Token Authentication Specification"); the client GETs the realm with that service and a pull
 *     scope (`repository:<repository>:pull`) and retries with `Authorization: Bearer <token>`.
 *     nvcr.io's realm is https://nvcr.io/proxy_auth and it hands out anonymous pull tokens for
 *     public NGC images (`{"token": "..."}`), as public scripts that read nvcr.io do.
 * On a 404, one GET of /v2/<repository>/tags/list (same token) finds the newest tag of the same
 * flavour (`YY.MM-vllm-python-py3` for the vLLM build) to name in the fix.
 *
 * `fetch` and the registry's base URL are injectable so tests can answer with recorded responses
 * from a real local HTTP server. ECR images are not checked: that needs ECR DescribeImages and
 * @aws-sdk/client-ecr, which this repo does not install.
 */
import type { PreflightInputs } from './inputs.ts';
import { fail, pass, type Row, warn } from './report.ts';

const CHECK = 'triton image';

/** Manifest media types a pull accepts, multi-platform indexes first. */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

export interface RegistryOptions {
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /**
   * Where requests meant for `https://<host>` go instead, e.g. `http://127.0.0.1:40123` for every
   * host in tests. Token realms on the same host are redirected too. Undefined: the host itself.
   */
  readonly baseUrl?: (host: string) => string | undefined;
  /** Per request. @default 15000 */
  readonly timeoutMs?: number;
}

export interface ImageRef {
  /** The registry host as the image names it (docker.io for Docker Hub short names). */
  readonly registry: string;
  /** The host the registry API is served from (registry-1.docker.io for docker.io). */
  readonly apiHost: string;
  readonly repository: string;
  /** The tag, or the digest (`sha256:...`). */
  readonly reference: string;
  readonly isDigest: boolean;
}

/**
 * Splits an image reference the way Docker does: the first path component is a registry host
 * when it has a dot or a port or is `localhost`; otherwise the image is on Docker Hub.
 */
export function parseImage(image: string): ImageRef | undefined {
  const at = image.indexOf('@');
  let name = image;
  let reference: string | undefined;
  let isDigest = false;
  if (at >= 0) {
    name = image.slice(0, at);
    reference = image.slice(at + 1);
    isDigest = true;
  } else {
    const colon = image.lastIndexOf(':');
    if (colon > image.lastIndexOf('/')) {
      name = image.slice(0, colon);
      reference = image.slice(colon + 1);
    }
  }
  if (reference === undefined || reference === '') return undefined;
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  if (first.includes('.') || first.includes(':') || first === 'localhost') {
    const repository = name.slice(slash + 1);
    return { registry: first, apiHost: first, repository, reference, isDigest };
  }
  const repository = name.includes('/') ? name : `library/${name}`;
  return {
    registry: 'docker.io',
    apiHost: 'registry-1.docker.io',
    repository,
    reference,
    isDigest,
  };
}

const ECR_HOST = /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/;

/** The parameters of a `Bearer realm="...",service="...",scope="..."` challenge. */
export function parseBearerChallenge(header: string | null): Record<string, string> | undefined {
  if (header === null || !/^bearer\s/i.test(header)) return undefined;
  const params: Record<string, string> = {};
  for (const m of header.slice(7).matchAll(/([a-zA-Z_]+)="([^"]*)"/g)) {
    const [, key, value] = m;
    if (key !== undefined && value !== undefined) params[key.toLowerCase()] = value;
  }
  return params.realm === undefined ? undefined : params;
}

/** `YY.MM-<flavour>` tags (NGC's scheme): the newest tag of the same flavour as `tag`. */
export function newestOfFlavour(tag: string, tags: readonly string[]): string | undefined {
  const scheme = /^(\d{2})\.(\d{2})(.*)$/;
  const flavour = scheme.exec(tag)?.[3];
  if (flavour === undefined) return undefined;
  const same = tags
    .map((t) => ({ t, m: scheme.exec(t) }))
    .filter((x) => x.m !== null && x.m[3] === flavour)
    .map((x) => ({ t: x.t, n: Number(x.m?.[1]) * 100 + Number(x.m?.[2]) }));
  same.sort((a, b) => b.n - a.n);
  return same[0]?.t;
}

/** Where a human lists the tags: NGC's catalog for nvcr.io, skopeo for any registry. */
function tagsHint(ref: ImageRef): string {
  const parts = ref.repository.split('/');
  if (ref.registry === 'nvcr.io' && (parts.length === 2 || parts.length === 3)) {
    const [org, team, name] = parts.length === 2 ? [parts[0], undefined, parts[1]] : parts;
    const path = `orgs/${org}${team === undefined ? '' : `/teams/${team}`}/containers/${name}/tags`;
    return `https://catalog.ngc.nvidia.com/${path}`;
  }
  return `skopeo list-tags docker://${ref.registry}/${ref.repository}`;
}

class RegistryClient {
  private readonly fetch: typeof fetch;
  private readonly timeoutMs: number;
  private token: string | undefined;

  constructor(
    private readonly ref: ImageRef,
    private readonly options: RegistryOptions,
  ) {
    this.fetch = options.fetch ?? globalThis.fetch;
    this.timeoutMs = options.timeoutMs ?? 15_000;
  }

  /** `https://<host>/<path>`, or the same path on the injected base URL for that host. */
  url(absolute: string): string {
    const u = new URL(absolute);
    const base = this.options.baseUrl?.(u.host);
    return base === undefined ? u.toString() : `${base.replace(/\/$/, '')}${u.pathname}${u.search}`;
  }

  private apiUrl(path: string): string {
    return this.url(`https://${this.ref.apiHost}/v2/${this.ref.repository}/${path}`);
  }

  private send(url: string, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.token !== undefined) headers.set('Authorization', `Bearer ${this.token}`);
    return this.fetch(url, { ...init, headers, signal: AbortSignal.timeout(this.timeoutMs) });
  }

  /** Sends once; on a Bearer challenge, fetches an anonymous token and sends again. */
  async request(path: string, init: RequestInit): Promise<Response> {
    const url = this.apiUrl(path);
    const first = await this.send(url, init);
    if (first.status !== 401 || this.token !== undefined) return first;
    const challenge = parseBearerChallenge(first.headers.get('www-authenticate'));
    await first.body?.cancel();
    if (challenge === undefined) return first;
    const realm = new URL(this.url(challenge.realm ?? ''));
    if (challenge.service !== undefined && !realm.searchParams.has('service')) {
      realm.searchParams.set('service', challenge.service);
    }
    // Pull is all a check (and a node) needs, and all an anonymous client is granted: nvcr.io's
    // challenge puts `scope=repository:<name>:pull,push` in the realm itself.
    realm.searchParams.set('scope', `repository:${this.ref.repository}:pull`);
    const answer = await this.send(realm.toString(), { method: 'GET' });
    if (!answer.ok) {
      await answer.body?.cancel();
      return first;
    }
    const body = (await answer.json()) as { token?: string; access_token?: string };
    this.token = body.token ?? body.access_token;
    return this.token === undefined ? first : this.send(url, init);
  }

  async manifest(): Promise<Response> {
    const res = await this.request(`manifests/${this.ref.reference}`, {
      method: 'HEAD',
      headers: { Accept: MANIFEST_ACCEPT },
    });
    await res.body?.cancel();
    return res;
  }

  /** Every tag, following `Link: <...>; rel="next"` for at most 10 pages; undefined on any error. */
  async tags(): Promise<string[] | undefined> {
    const tags: string[] = [];
    let path: string | undefined = 'tags/list';
    for (let page = 0; path !== undefined && page < 10; page++) {
      const res = await this.request(path, {
        method: 'GET',
        headers: { Accept: 'application/json' },
      });
      if (!res.ok) {
        await res.body?.cancel();
        return undefined;
      }
      tags.push(...(((await res.json()) as { tags?: string[] | null }).tags ?? []));
      const next = /<([^>]+)>;\s*rel="?next"?/.exec(res.headers.get('link') ?? '')?.[1];
      path = next?.replace(/^.*?\/v2\/.+?\/(tags\/list.*)$/, '$1');
    }
    return tags;
  }
}

function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (err instanceof Error && err.name === 'TimeoutError') return 'timed out';
  return err instanceof Error ? err.message : String(err);
}

/**
 * HEAD of the image's manifest in its registry (anonymous, with the token flow when the registry
 * asks for one). 200: PASS; 404: FAIL naming the tag and the newest tag of the same flavour;
 * refused (401/403), other statuses and an unreachable registry: WARN, since the check could not
 * tell. ECR images: WARN, not checked.
 */
export async function checkTritonImage(
  inputs: PreflightInputs,
  options: RegistryOptions = {},
): Promise<Row> {
  const image = inputs.tritonImage;
  const field = `triton.image in config/stages/${inputs.stage}.json`;
  const ref = parseImage(image);
  if (ref === undefined) {
    return fail(CHECK, `${image} names no tag or digest`, `pin a tag or digest in ${field}`);
  }
  const ecr = ECR_HOST.exec(ref.registry);
  if (ecr !== null) {
    const id = ref.isDigest ? `imageDigest=${ref.reference}` : `imageTag=${ref.reference}`;
    return warn(
      CHECK,
      `${image} is in ECR: not checked (ECR DescribeImages needs @aws-sdk/client-ecr, which this repo does not install)`,
      `check it with aws ecr describe-images --registry-id ${ecr[1]} --repository-name ${ref.repository} --image-ids ${id} --region ${ecr[2]}`,
    );
  }
  const client = new RegistryClient(ref, options);
  const where = `${ref.registry}/${ref.repository}`;
  let res: Response;
  try {
    res = await client.manifest();
  } catch (err) {
    return warn(
      CHECK,
      `could not check ${image}: cannot reach ${ref.registry} (${networkReason(err)})`,
      `check the network or proxy and rerun; the GPU nodes pull from ${ref.registry} too`,
    );
  }
  if (res.status === 200) {
    const digest = res.headers.get('docker-content-digest');
    const type = res.headers.get('content-type')?.split(';')[0];
    const facts = [type, digest].filter((x): x is string => x !== null && x !== undefined);
    return pass(CHECK, `${image} exists${facts.length > 0 ? ` (${facts.join(', ')})` : ''}`);
  }
  if (res.status === 404) {
    const what = ref.isDigest ? `digest ${ref.reference}` : `tag ${ref.reference}`;
    let suggestion: string | undefined;
    if (!ref.isDigest) {
      const tags = await client.tags().catch(() => undefined);
      const newest = tags === undefined ? undefined : newestOfFlavour(ref.reference, tags);
      if (newest !== undefined) suggestion = `${where}:${newest}`;
    }
    return fail(
      CHECK,
      `${what} does not exist in ${where} (the registry answered 404 to the manifest), so the Triton pods would never start (ErrImagePull)`,
      `set ${field} to ${suggestion === undefined ? 'an existing tag' : `${suggestion} (the newest tag of the same flavour)`}; tags: ${tagsHint(ref)}`,
    );
  }
  if (res.status === 401 || res.status === 403) {
    return warn(
      CHECK,
      `could not check ${image}: ${ref.registry} refused anonymous pull access (HTTP ${res.status}); the repository is private or its name is wrong`,
      `check the name in ${field}; a private image also needs pull credentials on the GPU nodes`,
    );
  }
  return warn(
    CHECK,
    `could not check ${image}: ${ref.registry} answered HTTP ${res.status} to the manifest request`,
    `rerun; if it persists, check with docker manifest inspect ${image}`,
  );
}
