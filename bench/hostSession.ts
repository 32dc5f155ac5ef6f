// One model host forked as the extension forks it, with what the benchmark reads from it:
// start-up time, every model's load time, and its memory sampled while it works.
import { performance } from 'node:perf_hooks';
import { methods, type HeadRole, type HostSettings, type HostStatus } from '../src/protocol';
import { startHost, type HostProcess } from '../test/support/hostProcess';
import { procMemory } from './machine';

export class BenchHost {
  /** Highest rssBytes the host's status reported while sampled. */
  peakStatusRss = 0;
  private sampler: NodeJS.Timeout | undefined;
  private sampling: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly process: HostProcess,
    readonly startMs: number,
  ) {}

  /** Forks dist/host.js and waits for the answer to `initialize`. */
  static async start(repoRoot: string, settings: HostSettings): Promise<BenchHost> {
    const started = performance.now();
    const host = await startHost(repoRoot, settings);
    return new BenchHost(host, performance.now() - started);
  }

  get pid(): number {
    return this.process.child.pid ?? -1;
  }

  request<P, R>(type: { method: string }, params: P): Promise<R> {
    return this.process.connection.sendRequest(type.method, params) as Promise<R>;
  }

  async status(): Promise<HostStatus> {
    const status = await this.process.connection.sendRequest(methods.status);
    this.peakStatusRss = Math.max(this.peakStatusRss, status.rssBytes);
    return status;
  }

  loadMs(role: HeadRole, status: HostStatus): number | undefined {
    return status.models.find((model) => model.roles.includes(role))?.loadMs;
  }

  /** Asks for the host's status every `everyMs` while the benchmark runs. */
  sampleMemory(everyMs = 500): void {
    this.sampler = setInterval(() => {
      this.sampling = this.status().catch(() => undefined);
    }, everyMs);
  }

  /** The kernel's peak resident size of the host process (VmHWM), when /proc has it. */
  kernelPeakRss(): number | undefined {
    return procMemory(this.pid)?.peakBytes;
  }

  async stop(): Promise<void> {
    if (this.sampler) clearInterval(this.sampler);
    await this.sampling;
    await this.process.stop();
  }
}
