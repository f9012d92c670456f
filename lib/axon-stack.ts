/**
 * Base of the four Axon stacks. A stack with a concrete account and region looks its AZs up in
 * the account at synth (the VPC checks configured AZs against them); the stage config names them
 * already, so this returns those and synth needs no credentials.
 */
import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { StageConfig } from './config.ts';

export interface AxonStackProps extends StackProps {
  readonly config: StageConfig;
}

export class AxonStack extends Stack {
  private readonly configuredZones: readonly string[];

  constructor(scope: Construct, id: string, props: AxonStackProps) {
    super(scope, id, props);
    this.configuredZones = props.config.network.availabilityZones;
  }

  override get availabilityZones(): string[] {
    return [...this.configuredZones];
  }
}
