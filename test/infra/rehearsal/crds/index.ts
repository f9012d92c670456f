/**
 * The CustomResourceDefinitions stored beside this file, as the pinned charts publish them
 * (sources.json says where each comes from). The admission rehearsal looks up the CRD of a custom
 * resource here, so it checks the schema and the CEL rules a cluster would hold, not a copy
 * someone wrote by hand. The biome.json beside them keeps Biome from parsing or reformatting the
 * YAML: the files must stay byte for byte as published (admission.test.ts checks their blobs).
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

// biome-ignore lint/suspicious/noExplicitAny: a CRD's OpenAPI schema is untyped JSON the checker walks
export type Schema = Record<string, any>;

export interface CrdSource {
  readonly file: string;
  readonly group: string;
  readonly kind: string;
  readonly chart: string;
  readonly chartVersion: string;
  readonly appVersion?: string;
  /** The lib/k8s/versions.ts constant whose version must equal `chartVersion`. */
  readonly pin: 'KARPENTER.version' | 'KEDA.version' | 'ALB_CONTROLLER_VERSION';
  readonly repo: string;
  readonly path: string;
  readonly tag: string;
  readonly commit: string;
  readonly blob: string;
  /** `helm-template`: a chart template whose Helm action lines are dropped before parsing. */
  readonly format: 'yaml' | 'helm-template';
  readonly note?: string;
}

export interface CrdVersion {
  readonly name: string;
  readonly served: boolean;
  readonly storage: boolean;
  readonly schema: { readonly openAPIV3Schema: Schema };
  readonly subresources?: { readonly status?: unknown };
}

export interface StoredCrd {
  readonly source: CrdSource;
  readonly group: string;
  readonly kind: string;
  readonly scope: 'Namespaced' | 'Cluster';
  readonly versions: readonly CrdVersion[];
}

const url = (file: string) => new URL(file, import.meta.url);

export const SOURCES: readonly CrdSource[] = JSON.parse(
  readFileSync(url('sources.json'), 'utf8'),
).files;

/** The stored text of one CRD file, as published. */
export function crdText(source: CrdSource): string {
  return readFileSync(url(source.file), 'utf8');
}

/** Closes the `{{- if .Values.crds.install }}` guard around a KEDA CRD template. */
const GUARD_END = '{{- end -}}';

/**
 * A chart template rendered as its default values render it, for templates whose Helm actions
 * sit in metadata or in the install guard only (the KEDA CRDs): those lines are dropped. An
 * action under `spec` would change the schema, so it is refused instead of guessed.
 */
function render(source: CrdSource, text: string): string {
  if (source.format === 'yaml') return text;
  const lines = text.split('\n');
  const spec = lines.slice(lines.indexOf('spec:'));
  if (spec.some((line) => line.includes('{{') && line.trim() !== GUARD_END)) {
    throw new Error(`${source.file}: a Helm action under spec; render it before storing it`);
  }
  return lines.filter((line) => !line.includes('{{')).join('\n');
}

function load(source: CrdSource): StoredCrd {
  const crd = parse(render(source, crdText(source)));
  if (crd?.kind !== 'CustomResourceDefinition' || crd.spec?.group !== source.group) {
    throw new Error(`${source.file}: not the CRD of group ${source.group}`);
  }
  if (crd.spec.names.kind !== source.kind) {
    throw new Error(
      `${source.file}: defines ${crd.spec.names.kind}, sources.json says ${source.kind}`,
    );
  }
  return {
    source,
    group: crd.spec.group,
    kind: crd.spec.names.kind,
    scope: crd.spec.scope,
    versions: crd.spec.versions,
  };
}

export const CRDS: readonly StoredCrd[] = SOURCES.map(load);

/** API groups with a stored CRD: their objects are custom resources, admitted against it. */
export const CRD_GROUPS: ReadonlySet<string> = new Set(CRDS.map((crd) => crd.group));

/** The served version of the stored CRD for `apiVersion`/`kind`, if any. */
export function servedVersion(
  apiVersion: string,
  kind: string,
): { crd: StoredCrd; version: CrdVersion } | undefined {
  const [group, name] = apiVersion.split('/');
  const crd = CRDS.find((c) => c.group === group && c.kind === kind);
  const version = crd?.versions.find((v) => v.name === name && v.served);
  return crd && version ? { crd, version } : undefined;
}
