import { describe, expect, it } from 'vitest';
import {
  allocatable,
  INSTANCE_TYPES,
  instanceFacts,
  kubeReservedCpuMillicores,
  kubeReservedMemoryMiB,
} from '../../lib/k8s/instance-types.ts';

describe('instance type facts', () => {
  it('covers every instance type the stages use or may use', () => {
    for (const type of [
      'm7i.large',
      'm7i.xlarge',
      'm6i.large',
      'c7i.large',
      'g6.xlarge',
      'g6.2xlarge',
      'g6.4xlarge',
      'g6.12xlarge',
      'g5.xlarge',
      'g5.2xlarge',
      'g6e.xlarge',
      'g6e.2xlarge',
      'p4d.24xlarge',
    ]) {
      expect(INSTANCE_TYPES[type], type).toBeDefined();
    }
  });

  it('gives every GPU type a model and GPU memory, and no CPU type either', () => {
    for (const [type, facts] of Object.entries(INSTANCE_TYPES)) {
      expect(facts.gpuModel !== undefined, type).toBe(facts.gpus > 0);
      expect(facts.gpuMemoryMiB > 0, type).toBe(facts.gpus > 0);
    }
  });

  it('refuses an unknown type, naming it and the table file', () => {
    expect(() => allocatable('g9.mega')).toThrow(/"g9\.mega".*lib\/k8s\/instance-types\.ts/);
    expect(() => instanceFacts('m7i.larg')).toThrow(/unknown instance type "m7i\.larg"/);
  });
});

describe('kube-reserved as the EKS AL2023 AMI computes it', () => {
  it('reserves 255 MiB plus 11 MiB per pod', () => {
    expect(kubeReservedMemoryMiB(29)).toBe(574);
    expect(kubeReservedMemoryMiB(58)).toBe(893);
    expect(kubeReservedMemoryMiB(737)).toBe(8362);
  });

  it('reserves 6% of the first core, 1% of the second, 0.5% of cores 3-4 and 0.25% beyond', () => {
    expect(kubeReservedCpuMillicores(1)).toBe(60);
    expect(kubeReservedCpuMillicores(2)).toBe(70);
    expect(kubeReservedCpuMillicores(4)).toBe(80);
    expect(kubeReservedCpuMillicores(8)).toBe(90);
    expect(kubeReservedCpuMillicores(96)).toBe(310);
  });
});

describe('allocatable', () => {
  it('leaves a g6.xlarge well under its 16 GiB: about 13.8 GiB for pods', () => {
    const g6 = allocatable('g6.xlarge');
    expect(g6.memoryMiB).toBeLessThan(16 * 1024);
    // 16384 MiB less 7.5% VM overhead = 15155; less 893 kube-reserved and 100 eviction.
    expect(g6).toEqual({ cpuMillicores: 3920, memoryMiB: 14162, pods: 58, gpus: 1 });
  });

  it('computes a system node and an eight-GPU node the same way', () => {
    // 8192 x 0.925 = 7577; less 574 and 100.
    expect(allocatable('m7i.large')).toEqual({
      cpuMillicores: 1930,
      memoryMiB: 6903,
      pods: 29,
      gpus: 0,
    });
    // 1179648 x 0.925 = 1091174; less 8362 and 100.
    expect(allocatable('p4d.24xlarge')).toEqual({
      cpuMillicores: 95690,
      memoryMiB: 1082712,
      pods: 737,
      gpus: 8,
    });
  });
});
