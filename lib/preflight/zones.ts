/**
 * Availability zones and the instance types offered in them. AZ names map to different physical
 * zones in each account (us-east-1a here is not us-east-1a elsewhere), so whether an AZ offers a
 * GPU type can only be asked of the account itself.
 */
import {
  DescribeAvailabilityZonesCommand,
  DescribeInstanceTypeOfferingsCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import type { PreflightInputs } from './inputs.ts';
import { errorRow, fail, pass, type Row } from './report.ts';

/** EC2 DescribeAvailabilityZones: every AZ the stage names exists for this account and is available. */
export async function checkAvailabilityZones(
  ec2: Pick<EC2Client, 'send'>,
  inputs: PreflightInputs,
): Promise<Row> {
  const check = 'availability zones';
  let zones: { name: string; id: string; state: string }[];
  try {
    const { AvailabilityZones = [] } = await ec2.send(new DescribeAvailabilityZonesCommand({}));
    zones = AvailabilityZones.map((z) => ({
      name: z.ZoneName ?? '',
      id: z.ZoneId ?? '',
      state: z.State ?? 'unknown',
    }));
  } catch (err) {
    return errorRow(check, 'ec2:DescribeAvailabilityZones', err);
  }
  const problems: string[] = [];
  const found: string[] = [];
  for (const az of inputs.availabilityZones) {
    const zone = zones.find((z) => z.name === az);
    if (zone === undefined) problems.push(`${az} does not exist for this account`);
    else if (zone.state !== 'available') problems.push(`${az} (${zone.id}) is ${zone.state}`);
    else found.push(`${az} (${zone.id})`);
  }
  if (problems.length > 0) {
    const usable = zones.filter((z) => z.state === 'available').map((z) => z.name);
    return fail(
      check,
      problems.join('; '),
      `list available AZs in network.availabilityZones; this account has ${usable.join(', ') || 'none'} in ${inputs.region}`,
    );
  }
  return pass(check, `${found.join(', ')} available`);
}

/** All (type, AZ) pairs EC2 offers among the given types and AZs, over every page. */
async function offerings(
  ec2: Pick<EC2Client, 'send'>,
  types: readonly string[],
  azs: readonly string[],
): Promise<Set<string>> {
  const offered = new Set<string>();
  let token: string | undefined;
  do {
    const page = await ec2.send(
      new DescribeInstanceTypeOfferingsCommand({
        LocationType: 'availability-zone',
        Filters: [
          { Name: 'instance-type', Values: [...types] },
          { Name: 'location', Values: [...azs] },
        ],
        ...(token !== undefined && { NextToken: token }),
      }),
    );
    for (const o of page.InstanceTypeOfferings ?? [])
      offered.add(`${o.InstanceType}@${o.Location}`);
    token = page.NextToken;
  } while (token);
  return offered;
}

/**
 * EC2 DescribeInstanceTypeOfferings by AZ. The system node group spans every AZ of the stage, so
 * its types must be offered in all of them; the GPU pool launches wherever its type is offered,
 * so one AZ is enough, and the row says which AZs lack it.
 */
export async function checkInstanceOfferings(
  ec2: Pick<EC2Client, 'send'>,
  inputs: PreflightInputs,
): Promise<Row[]> {
  const azs = inputs.availabilityZones;
  const types = [...new Set([...inputs.systemInstanceTypes, ...inputs.gpuInstanceTypes])];
  let offered: Set<string>;
  try {
    offered = await offerings(ec2, types, azs);
  } catch (err) {
    return [errorRow('instance offerings', 'ec2:DescribeInstanceTypeOfferings', err)];
  }
  const row = (type: string, system: boolean): Row => {
    const check = `offering ${type}`;
    const inAz = azs.filter((az) => offered.has(`${type}@${az}`));
    const missing = azs.filter((az) => !inAz.includes(az));
    const field = system ? 'eks.systemNodes.instanceTypes' : 'eks.gpuNodes.instanceTypes';
    const fix = `pick AZs that offer it (aws ec2 describe-instance-type-offerings --location-type availability-zone --filters Name=instance-type,Values=${type} --region ${inputs.region}) in network.availabilityZones, or change ${field}`;
    if (system && missing.length > 0) {
      return fail(
        check,
        `system node type not offered in ${missing.join(', ')}; the node group spans every AZ of the stage`,
        fix,
      );
    }
    if (inAz.length === 0) {
      return fail(check, `GPU type offered in none of ${azs.join(', ')}`, fix);
    }
    const lacking = missing.length > 0 ? ` (not in ${missing.join(', ')})` : '';
    return pass(check, `${system ? 'system' : 'GPU'} type offered in ${inAz.join(', ')}${lacking}`);
  };
  return [
    ...inputs.systemInstanceTypes.map((t) => row(t, true)),
    ...inputs.gpuInstanceTypes
      .filter((t) => !inputs.systemInstanceTypes.includes(t))
      .map((t) => row(t, false)),
  ];
}
