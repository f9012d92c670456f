/**
 * CloudFormation intrinsics inside a manifest or chart values become placeholder strings, so the
 * JSON can be parsed and checked as a cluster would see it. A placeholder is shaped like what it
 * stands for where a schema or a startup check looks at the shape, judged from the logical id,
 * attribute or export name: a port becomes a port number (a Redis endpoint is `address:port`), a
 * subnet, security group or VPC id gets its EC2 prefix (Karpenter's CRD checks them), anything
 * else a lowercase DNS-safe name (valid as a label value, an image, an annotation or a host).
 */

// biome-ignore lint/suspicious/noExplicitAny: untyped template JSON
type Json = any;

function dnsSafe(prefix: string, name: string): string {
  const cleaned = `${prefix}-${name}`.toLowerCase().replace(/[^a-z0-9-]+/g, '-');
  return cleaned.slice(0, 63).replace(/-+$/, '');
}

/** The placeholder for a value known by `name`, or undefined when its shape does not matter. */
function shaped(name: string): string | undefined {
  // CDK logical ids and export names end in a hash: ...ConfigurationEndPointPort3B3C47C5
  const bare = name.replace(/[0-9A-F]{8,}$/, '');
  if (/Port$/.test(bare)) return '6379';
  if (/Subnet/.test(bare)) return 'subnet-0123456789abcdef0';
  if (/SecurityGroup|GroupId$/.test(bare)) return 'sg-0123456789abcdef0';
  if (/Vpc$|VpcId$/.test(bare)) return 'vpc-0123456789abcdef0';
  return undefined;
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
    if ('Ref' in value) return shaped(String(value.Ref)) ?? dnsSafe('ref', String(value.Ref));
    if ('Fn::GetAtt' in value) {
      const [resource, attribute] = value['Fn::GetAtt'] as [string, string];
      return shaped(attribute) ?? dnsSafe(resource, attribute);
    }
    if ('Fn::ImportValue' in value) {
      const name = placeholder(value['Fn::ImportValue']).split(':').pop() ?? '';
      return shaped(name) ?? dnsSafe('import', name);
    }
    if ('Fn::Sub' in value) {
      const template = Array.isArray(value['Fn::Sub']) ? value['Fn::Sub'][0] : value['Fn::Sub'];
      return String(template).replace(/\$\{[^}]+\}/g, 'sub');
    }
  }
  return 'token';
}
