/**
 * Stands in for `@aws-sdk/credential-provider-node` inside Lambda bundles (lib/bundling.ts
 * aliases it here). A Lambda function always gets its role's credentials as environment
 * variables, so the SDK's default chain (SSO, INI files, web identity, IMDS, with the STS and
 * SSO clients it carries) is dead weight there: dropping it takes ~130 KB off the gateway
 * bundle, which is what keeps the bundled SDK inside the cold-start budget.
 */
export { fromEnv as defaultProvider } from '@aws-sdk/credential-provider-env';
