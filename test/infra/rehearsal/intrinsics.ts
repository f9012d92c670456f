/**
 * CloudFormation intrinsics inside a manifest or chart values become placeholder strings, so the
 * JSON can be parsed and checked as a cluster would see it. A placeholder is shaped like what it
 * stands for where that matters to a check: an attribute or export whose name ends in `Port`
 * becomes a port number (a Redis endpoint is `address:port`), anything else a lowercase DNS-safe
 * name (valid as a label value, an image, an ARN annotation or a host).
 */

// biome-ignore lint/suspicious/noExplicitAny: untyped template JSON
type Json = any;

const PORT_PLACEHOLDER = '6379';

function dnsSafe(prefix: string, name: string): string {
  const cleaned = `${prefix}-${name}`.toLowerCase().replace(/[^a-z0-9-]+/g, '-');
  return cleaned.slice(0, 63).replace(/-+$/, '');
}

function looksLikePort(name: string): boolean {
  // CDK export names end in a hash: ...ConfigurationEndPointPort3B3C47C5
  return /Port([0-9A-F]{8})?$/.test(name);
}

/** A template value (string or intrinsic) as the string it will be at deploy time, roughly. */
export function placeholder(value: Json): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value && typeof value === 'object') {
    if ('Fn::Join' in value) {
      const [separator, parts] = value['Fn::Join'] as [string, Json[]];
      return parts.map(placeholder).join(separator);
    }
    if ('Ref' in value) return dnsSafe('ref', String(value.Ref));
    if ('Fn::GetAtt' in value) {
      const [resource, attribute] = value['Fn::GetAtt'] as [string, string];
      return looksLikePort(attribute) ? PORT_PLACEHOLDER : dnsSafe(resource, attribute);
    }
    if ('Fn::ImportValue' in value) {
      const name = placeholder(value['Fn::ImportValue']);
      return looksLikePort(name)
        ? PORT_PLACEHOLDER
        : dnsSafe('import', name.split(':').pop() ?? '');
    }
    if ('Fn::Sub' in value) {
      const template = Array.isArray(value['Fn::Sub']) ? value['Fn::Sub'][0] : value['Fn::Sub'];
      return String(template).replace(/\$\{[^}]+\}/g, 'sub');
    }
  }
  return 'token';
}
