// The registries of one host process, shared by its clients: VS Code windows whose settings are
// the same use one registry, so a model is loaded once for all of them.
import type { HostSettings, LoadProgress } from '../../protocol';
import { ModelRegistry } from './registry';
import { useNetworkPolicy } from './runtime';

/** One connected client (a VS Code window, the CLI, a test) as the pool sees it. */
export interface PoolClient {
  onProgress(progress: LoadProgress): void;
}

interface Group {
  key: string;
  registry: ModelRegistry;
  clients: Set<PoolClient>;
}

/** Settings that differ only in key order are the same settings. */
function keyOf(settings: HostSettings): string {
  const sorted = (value: unknown): unknown =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(
          Object.entries(value as Record<string, unknown>)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([key, inner]) => [key, sorted(inner)]),
        )
      : value;
  return JSON.stringify(sorted(settings));
}

export class RegistryPool {
  private readonly groups = new Map<string, Group>();
  private readonly groupOf = new Map<PoolClient, Group>();

  /** The registry serving `client`, which it shares with every client of the same settings. */
  attach(client: PoolClient, settings: HostSettings): ModelRegistry {
    const key = keyOf(settings);
    let group = this.groups.get(key);
    if (!group) {
      const created: Group = {
        key,
        clients: new Set(),
        registry: new ModelRegistry(settings, (progress) => {
          for (const member of created.clients) member.onProgress(progress);
        }),
      };
      group = created;
      this.groups.set(key, group);
    }
    group.clients.add(client);
    this.groupOf.set(client, group);
    this.applyNetworkPolicy();
    return group.registry;
  }

  /** The client's settings changed: it moves to the registry of its new settings. */
  reconfigure(client: PoolClient, settings: HostSettings): ModelRegistry {
    const group = this.groupOf.get(client);
    const key = keyOf(settings);
    if (group && group.key === key) return group.registry;
    if (group && group.clients.size === 1 && !this.groups.has(key)) {
      // Its own registry: reconfigure it in place, which keeps the models that stay and lets
      // requests in flight finish on the ones that go.
      this.groups.delete(group.key);
      group.key = key;
      this.groups.set(key, group);
      group.registry.configure(settings);
      this.applyNetworkPolicy();
      return group.registry;
    }
    this.detach(client);
    return this.attach(client, settings);
  }

  /** The client left; a registry nobody uses any more lets its models go. */
  /** The clients (LSP sessions: VS Code windows, tests) the host serves now. */
  get clientCount(): number {
    return this.groupOf.size;
  }

  detach(client: PoolClient): void {
    const group = this.groupOf.get(client);
    if (!group) return;
    this.groupOf.delete(client);
    group.clients.delete(client);
    if (group.clients.size > 0) return;
    this.groups.delete(group.key);
    void group.registry.dispose();
    this.applyNetworkPolicy();
  }

  /**
   * The network policy is the process's: while any client works offline, the host does not touch
   * the network for anyone (a window that turned "gpt2Heads.offline" on is never overridden).
   */
  private applyNetworkPolicy(): void {
    const registries = [...this.groups.values()].map((group) => group.registry);
    if (registries.length === 0) return;
    const offline = [...this.groups.keys()].some(
      (key) => (JSON.parse(key) as HostSettings).offline,
    );
    useNetworkPolicy(offline, (url) => {
      for (const registry of registries) {
        const signal = registry.abortSignalFor(url);
        if (signal) return signal;
      }
      return undefined;
    });
  }

  async dispose(): Promise<void> {
    const registries = [...this.groups.values()].map((group) => group.registry);
    this.groups.clear();
    this.groupOf.clear();
    await Promise.all(registries.map((registry) => registry.dispose()));
  }
}
