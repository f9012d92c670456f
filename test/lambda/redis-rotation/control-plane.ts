/**
 * STAND-IN FOR THE AWS CONTROL PLANE. There is no Secrets Manager or ElastiCache here, so these
 * aws-sdk-client-mock handlers model the parts of both APIs the rotation Lambda relies on:
 * secret versions and their staging labels, a replication group that goes `modifying` for a
 * few polls after each ModifyReplicationGroup, accepts two tokens after ROTATE and one after SET,
 * and refuses a modification while another runs, and an RBAC user that goes `modifying` after
 * each ModifyUser, holds one or two passwords (never more, as ElastiCache) and likewise refuses
 * a modification while another runs. Every call is recorded in order.
 */
import { randomBytes } from 'node:crypto';
import {
  DescribeReplicationGroupsCommand,
  DescribeUsersCommand,
  ElastiCacheClient,
  InvalidParameterValueException,
  InvalidReplicationGroupStateFault,
  InvalidUserStateFault,
  ModifyReplicationGroupCommand,
  ModifyUserCommand,
} from '@aws-sdk/client-elasticache';
import {
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import type { SecretRotationDeps } from '#shared/secret-rotation';
import type { WaitDeps } from '../../../lambda/redis-rotation/wait.ts';
import { captureLog } from '../../support/capture-log.ts';

export interface Version {
  /** Absent while Secrets Manager has reserved the version but createSecret has not filled it. */
  value?: string;
  stages: string[];
  created: Date;
}

export interface Call {
  api: string;
  input: Record<string, unknown>;
}

/** What the group rotation and the user rotation both take from the control plane. */
export type PlaneDeps = SecretRotationDeps &
  WaitDeps & { readonly elasticache: ElastiCacheClient; readonly tokenLength: number };

export class ControlPlane {
  readonly secrets = new SecretsManagerClient({ region: 'us-east-1' });
  readonly elasticache = new ElastiCacheClient({ region: 'us-east-1' });
  readonly calls: Call[] = [];
  readonly versions = new Map<string, Version>();
  rotationEnabled = true;
  group = {
    status: 'available',
    /** Tokens Redis accepts right now. */
    tokens: [] as string[],
    lastModified: undefined as Date | undefined,
    pendingPolls: 0,
    pending: undefined as undefined | (() => void),
  };
  user = {
    status: 'active',
    /** Passwords the user accepts right now. */
    passwords: [] as string[],
    pendingPolls: 0,
    pending: undefined as undefined | (() => void),
  };
  /** How many DescribeReplicationGroups calls a modification stays `modifying`. */
  modifyingPolls = 2;
  clock = Date.parse('2026-11-01T00:00:00Z');

  constructor(
    readonly secretId: string,
    initialToken: string,
  ) {
    this.versions.set('v-initial', {
      value: initialToken,
      stages: ['AWSCURRENT'],
      created: this.now(),
    });
    this.group.tokens = [initialToken];
    this.user.passwords = [initialToken];
    this.group.lastModified = this.now();
    this.install();
  }

  now(): Date {
    return new Date(this.clock);
  }

  tick(ms = 1000): void {
    this.clock += ms;
  }

  /**
   * What both Redis rotations take from this plane: its two clients, its clock (their sleep
   * advances it, so a wait costs no real time), 64-character tokens, a 10-minute wait budget and a
   * log that keeps its lines. A test adds its target (group or user) and its overrides.
   */
  rotationDeps(): { deps: PlaneDeps; logLines: string[] } {
    const { log, lines } = captureLog();
    const deps: PlaneDeps = {
      secrets: this.secrets,
      elasticache: this.elasticache,
      log,
      tokenLength: 64,
      waitTimeoutMs: 10 * 60_000,
      now: () => this.clock,
      sleep: async (ms) => this.tick(ms),
    };
    return { deps, logLines: lines };
  }

  /** What RotateSecret does before calling the function: reserve a version labelled AWSPENDING. */
  startRotation(versionId: string): void {
    this.versions.set(versionId, { stages: ['AWSPENDING'], created: this.now() });
  }

  current(): Version | undefined {
    return [...this.versions.values()].find((v) => v.stages.includes('AWSCURRENT'));
  }

  stagesOf(): Record<string, string[]> {
    return Object.fromEntries([...this.versions].map(([id, v]) => [id, [...v.stages]]));
  }

  restore(): void {
    mockClient(this.secrets).restore();
    mockClient(this.elasticache).restore();
  }

  private record(api: string, input: object): void {
    this.calls.push({ api, input: { ...input } });
    this.tick(10);
  }

  private install(): void {
    const sm = mockClient(this.secrets);
    const ec = mockClient(this.elasticache);

    sm.on(DescribeSecretCommand).callsFake((input) => {
      this.record('DescribeSecret', input);
      return {
        ARN: this.secretId,
        RotationEnabled: this.rotationEnabled,
        VersionIdsToStages: this.stagesOf(),
      };
    });
    sm.on(GetSecretValueCommand).callsFake((input) => {
      this.record('GetSecretValue', input);
      const entry = input.VersionId
        ? [input.VersionId, this.versions.get(input.VersionId)]
        : [...this.versions].find(([, v]) => v.stages.includes(input.VersionStage ?? 'AWSCURRENT'));
      const [id, version] = (entry ?? []) as [string?, Version?];
      const missingStage = input.VersionStage && !version?.stages.includes(input.VersionStage);
      if (!id || !version || version.value === undefined || missingStage) {
        throw new ResourceNotFoundException({
          message: 'Secrets Manager can’t find the specified secret value',
          $metadata: {},
        });
      }
      return {
        ARN: this.secretId,
        VersionId: id,
        SecretString: version.value,
        VersionStages: version.stages,
      };
    });
    sm.on(GetRandomPasswordCommand).callsFake((input) => {
      this.record('GetRandomPassword', input);
      const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
      const bytes = randomBytes(input.PasswordLength);
      return { RandomPassword: [...bytes].map((b) => alphabet[b % alphabet.length]).join('') };
    });
    sm.on(PutSecretValueCommand).callsFake((input) => {
      this.record('PutSecretValue', input);
      this.versions.set(input.ClientRequestToken, {
        value: input.SecretString,
        stages: [...input.VersionStages],
        created: this.now(),
      });
      return { ARN: this.secretId, VersionId: input.ClientRequestToken };
    });
    sm.on(ListSecretVersionIdsCommand).callsFake((input) => {
      this.record('ListSecretVersionIds', input);
      return {
        Versions: [...this.versions].map(([id, v]) => ({
          VersionId: id,
          CreatedDate: v.created,
          VersionStages: v.stages,
        })),
      };
    });
    sm.on(UpdateSecretVersionStageCommand).callsFake((input) => {
      this.record('UpdateSecretVersionStage', input);
      // A staging label is on one version at a time: AWSPREVIOUS leaves the version that had it.
      for (const [id, v] of this.versions) {
        v.stages = v.stages.filter((s) => s !== 'AWSPREVIOUS');
        if (id === input.RemoveFromVersionId)
          v.stages = [...v.stages.filter((s) => s !== input.VersionStage), 'AWSPREVIOUS'];
      }
      const target = this.versions.get(input.MoveToVersionId);
      if (target)
        target.stages = [...target.stages.filter((s) => s !== 'AWSPENDING'), input.VersionStage];
      return { ARN: this.secretId };
    });

    ec.on(DescribeReplicationGroupsCommand).callsFake((input) => {
      this.record('DescribeReplicationGroups', input);
      if (this.group.status === 'modifying' && --this.group.pendingPolls <= 0) {
        this.group.status = 'available';
        // Only a token change moves AuthTokenLastModifiedDate (other modifications do not).
        if (this.group.pending) {
          this.group.pending();
          this.group.pending = undefined;
          this.group.lastModified = this.now();
        }
      }
      return {
        ReplicationGroups: [
          {
            ReplicationGroupId: input.ReplicationGroupId,
            Status: this.group.status,
            AuthTokenEnabled: true,
            AuthTokenLastModifiedDate: this.group.lastModified,
          },
        ],
      };
    });
    ec.on(DescribeUsersCommand).callsFake((input) => {
      this.record('DescribeUsers', input);
      if (this.user.status === 'modifying' && --this.user.pendingPolls <= 0) {
        this.user.status = 'active';
        this.user.pending?.();
        this.user.pending = undefined;
      }
      return {
        Users: [
          {
            UserId: input.UserId,
            Status: this.user.status,
            Authentication: { Type: 'password', PasswordCount: this.user.passwords.length },
          },
        ],
      };
    });
    ec.on(ModifyUserCommand).callsFake((input) => {
      this.record('ModifyUser', input);
      if (this.user.status !== 'active') {
        throw new InvalidUserStateFault({ message: `User is ${this.user.status}`, $metadata: {} });
      }
      const passwords = [...(input.AuthenticationMode?.Passwords ?? [])];
      if (passwords.length < 1 || passwords.length > 2) {
        throw new InvalidParameterValueException({
          message: 'A user has one or two passwords',
          $metadata: {},
        });
      }
      this.user.pending = () => {
        this.user.passwords = passwords;
      };
      this.user.status = 'modifying';
      this.user.pendingPolls = this.modifyingPolls;
      return { Status: 'modifying' };
    });
    ec.on(ModifyReplicationGroupCommand).callsFake((input) => {
      this.record('ModifyReplicationGroup', input);
      if (this.group.status !== 'available') {
        throw new InvalidReplicationGroupStateFault({
          message: `Replication group is ${this.group.status}`,
          $metadata: {},
        });
      }
      const token = input.AuthToken as string;
      if (input.AuthTokenUpdateStrategy === 'ROTATE') {
        this.group.pending = () => {
          this.group.tokens = [this.group.tokens[this.group.tokens.length - 1] as string, token];
        };
      } else if (input.AuthTokenUpdateStrategy === 'SET') {
        if (!this.group.tokens.includes(token))
          throw new Error('SET is allowed only after ROTATE with the same token');
        this.group.pending = () => {
          this.group.tokens = [token];
        };
      }
      this.group.status = 'modifying';
      this.group.pendingPolls = this.modifyingPolls;
      return { ReplicationGroup: { Status: 'modifying' } };
    });
  }
}
