/**
 * Stands in for Secrets Manager in rotation tests: `reader` is the `SecretProvider` a Redis
 * connection gets, `value` is what AWSCURRENT holds now, `reads` counts the re-reads.
 */
export class SecretStandIn {
  reads = 0;
  constructor(public value: string) {}
  reader = async (): Promise<string> => {
    this.reads++;
    return this.value;
  };
}
