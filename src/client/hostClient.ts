import * as vscode from 'vscode';
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  ResponseError,
  State,
  TransportKind,
  type CloseHandlerResult,
  type ErrorHandlerResult,
  type LanguageClientOptions,
  type ServerOptions,
} from 'vscode-languageclient/node';
import type {
  ProgressType,
  ProtocolRequestType,
  RequestType,
  RequestType0,
} from 'vscode-languageserver-protocol';
import { errorCodes, methods, type LoadProgress } from '../protocol';
import { hostSettingKeys, hostSettings, settings } from './settings';
import { connectToSharedHost, hostTag } from './sharedHost';

export type HostState = 'stopped' | 'starting' | 'ready' | 'busy' | 'error';

/** How many crashes within `crashWindowMs` the host survives before it stays down. */
const maxCrashes = 4;
const crashWindowMs = 3 * 60_000;

/** A request failed for a reason the user should see as it is. */
export class HostRequestError extends Error {
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
  }
}

/**
 * The extension's side of the model host: starts it on first use, restarts it after a crash,
 * forwards settings, and shows model download/load progress as cancellable notifications.
 */
export class HostClient implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private starting: Promise<LanguageClient> | undefined;
  private inFlight = 0;
  private crashes: number[] = [];
  private lastError: string | undefined;
  private readonly stateEmitter = new vscode.EventEmitter<HostState>();
  private readonly loads = new Map<string, (progress: LoadProgress) => void>();
  private readonly disposables: vscode.Disposable[] = [];
  readonly onDidChangeState = this.stateEmitter.event;

  constructor(
    private readonly context: vscode.ExtensionContext,
    readonly log: vscode.LogOutputChannel,
  ) {
    this.disposables.push(
      this.stateEmitter,
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (this.client && hostSettingKeys.some((key) => event.affectsConfiguration(key))) {
          void this.client.sendNotification(methods.configure, this.settings());
        }
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => {
        if (this.client) void this.client.sendNotification(methods.configure, this.settings());
      }),
    );
  }

  get state(): HostState {
    if (this.lastError && !this.client?.isRunning()) return 'error';
    if (!this.client) return this.starting ? 'starting' : 'stopped';
    if (this.client.state === State.Starting) return 'starting';
    if (this.client.state === State.Stopped) return this.lastError ? 'error' : 'stopped';
    return this.inFlight > 0 ? 'busy' : 'ready';
  }

  /** When the host last stopped unexpectedly and was restarted, if it did. */
  lastRestart: Date | undefined;

  get errorMessage(): string | undefined {
    return this.lastError;
  }

  /** Sends a request, starting the host first if needed. Cancelling the token cancels it there. */
  async request<P, R>(
    type: RequestType<P, R, void> | ProtocolRequestType<P, R, unknown, void, unknown>,
    params: P,
    token?: vscode.CancellationToken,
  ): Promise<R>;
  async request<R>(type: RequestType0<R, void>, token?: vscode.CancellationToken): Promise<R>;
  async request(type: unknown, ...args: unknown[]): Promise<unknown> {
    const client = await this.start();
    this.inFlight++;
    this.fireState();
    try {
      return await (client.sendRequest as (...a: unknown[]) => Promise<unknown>)(type, ...args);
    } catch (error) {
      throw this.describe(error);
    } finally {
      this.inFlight--;
      this.fireState();
    }
  }

  /** Sends a request whose partial results (e.g. generated text) arrive through `onPartial`. */
  async requestWithPartials<P extends { partialResultToken?: string | number }, R, C>(
    type: ProtocolRequestType<P, R, C, void, unknown>,
    partials: ProgressType<C>,
    params: P,
    onPartial: (chunk: C) => void,
    token?: vscode.CancellationToken,
  ): Promise<R> {
    const client = await this.start();
    const partialResultToken = `gpt2Heads-${Date.now()}-${++this.partialCounter}`;
    const subscription = client.onProgress(partials, partialResultToken, (chunk) =>
      onPartial(chunk as C),
    );
    try {
      return await this.request(type, { ...params, partialResultToken }, token);
    } finally {
      subscription.dispose();
    }
  }

  private partialCounter = 0;

  /** The running client, for features that subscribe to notifications or progress. */
  async start(): Promise<LanguageClient> {
    const client = this.client;
    if (client?.isRunning()) return client;
    if (client && this.crashedTooOften)
      throw new HostRequestError(this.lastError ?? 'The model host is stopped.');
    // The client library is restarting the host after a crash: wait for it, do not fork another.
    if (client && !this.starting) return this.whenRunning(client);
    this.starting ??= this.createAndStart().finally(() => (this.starting = undefined));
    this.fireState();
    return this.starting;
  }

  private whenRunning(client: LanguageClient): Promise<LanguageClient> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        listener.dispose();
        reject(
          new HostRequestError(
            'The model host did not come back after it stopped. Run "GPT-2 Heads: Restart Model Host".',
          ),
        );
      }, 30_000);
      const listener = client.onDidChangeState((event) => {
        if (event.newState === State.Running) {
          clearTimeout(timer);
          listener.dispose();
          resolve(client);
        } else if (event.newState === State.Stopped && this.crashedTooOften) {
          clearTimeout(timer);
          listener.dispose();
          reject(new HostRequestError(this.lastError ?? 'The model host is stopped.'));
        }
      });
    });
  }

  private get crashedTooOften(): boolean {
    return this.crashes.length > maxCrashes;
  }

  async restart(): Promise<void> {
    this.crashes = [];
    this.lastError = undefined;
    const client = this.client;
    this.client = undefined;
    // The shared host serves other windows too: it ends gracefully, and they reconnect.
    if (client?.isRunning() && settings.sharedHost()) {
      const status = await client.sendRequest(methods.status).catch(() => undefined);
      try {
        if (status) process.kill(status.pid, 'SIGTERM');
      } catch {
        // It has already gone.
      }
    }
    if (client) await client.dispose(2000).catch(() => undefined);
    await this.start();
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) await client.dispose(2000).catch(() => undefined);
    this.fireState();
  }

  dispose(): void {
    void this.stop();
    for (const disposable of this.disposables) disposable.dispose();
  }

  private settings() {
    return hostSettings(this.context.globalStorageUri);
  }

  private async createAndStart(): Promise<LanguageClient> {
    const module = this.context.asAbsolutePath('dist/host.js');
    const tag = hostTag(String(this.context.extension.packageJSON.version), module);
    const serverOptions: ServerOptions = settings.sharedHost()
      ? async () => {
          // After a crash the dying host may still accept for a moment: let it go first.
          if (this.lastRestart) await new Promise((resolve) => setTimeout(resolve, 250));
          const socket = await connectToSharedHost({ hostModule: module, tag });
          return { reader: socket, writer: socket };
        }
      : {
          run: { module, transport: TransportKind.ipc },
          debug: {
            module,
            transport: TransportKind.ipc,
            options: { execArgv: ['--inspect=6010'] },
          },
        };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [],
      outputChannel: this.log,
      initializationOptions: this.settings(),
      errorHandler: {
        error: (): ErrorHandlerResult => ({ action: ErrorAction.Continue, handled: true }),
        closed: (): CloseHandlerResult => this.onClosed(),
      },
    };
    const client = new LanguageClient('gpt2Heads', 'GPT-2 Heads', serverOptions, clientOptions);
    this.client = client;
    client.onDidChangeState(() => this.fireState());
    this.lastError = undefined;
    this.fireState();
    try {
      await client.start();
    } catch (error) {
      this.client = undefined;
      this.lastError = `The model host did not start: ${(error as Error).message}`;
      this.fireState();
      throw new HostRequestError(this.lastError);
    }
    client.onNotification(methods.loadProgress, (progress) => this.showLoadProgress(progress));
    client.onNotification(methods.modelFailed, (failure) =>
      this.log.error(`${failure.source}: ${failure.message}`),
    );
    return client;
  }

  private onClosed(): CloseHandlerResult {
    const now = Date.now();
    this.crashes = [...this.crashes.filter((time) => now - time < crashWindowMs), now];
    if (this.crashes.length > maxCrashes) {
      this.lastError =
        `The model host stopped ${this.crashes.length} times in 3 minutes and will not be restarted. ` +
        `Check the model settings and the "GPT-2 Heads" log, then run "GPT-2 Heads: Restart Model Host".`;
      this.log.error(this.lastError);
      this.fireState();
      return { action: CloseAction.DoNotRestart, message: this.lastError };
    }
    this.lastRestart = new Date(now);
    this.log.warn('The model host stopped unexpectedly; restarting it.');
    this.fireState();
    return { action: CloseAction.Restart, handled: true };
  }

  private describe(error: unknown): Error {
    if (error instanceof ResponseError) {
      if (error.code === errorCodes.cancelled) return new vscode.CancellationError();
      return new HostRequestError(error.message, error.code);
    }
    const message = error instanceof Error ? error.message : String(error);
    if (/disposed|closed|not running|connection/i.test(message)) {
      return new HostRequestError(
        'The model host stopped while working on this request. It restarts by itself; try again.',
      );
    }
    return new HostRequestError(message);
  }

  /** Loads that finish within this time show no notification (local models load quickly). */
  private static readonly quietLoadMs = 500;
  private readonly latestLoad = new Map<string, LoadProgress>();

  private showLoadProgress(progress: LoadProgress): void {
    const update = this.loads.get(progress.source);
    if (update) return update(progress);
    const waiting = this.latestLoad.has(progress.source);
    if (progress.done) {
      this.latestLoad.delete(progress.source);
      return;
    }
    this.latestLoad.set(progress.source, progress);
    if (waiting) return;
    setTimeout(() => {
      const latest = this.latestLoad.get(progress.source);
      this.latestLoad.delete(progress.source);
      if (latest) this.openLoadNotification(latest);
    }, HostClient.quietLoadMs);
  }

  private openLoadNotification(first: LoadProgress): void {
    let reportedPercent = 0;
    void vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `GPT-2 Heads: loading ${first.source}`,
        cancellable: true,
      },
      (reporter, token) =>
        new Promise<void>((resolve) => {
          const finish = () => {
            this.loads.delete(first.source);
            resolve();
          };
          token.onCancellationRequested(() => {
            void this.client?.sendNotification(methods.cancelLoad, { source: first.source });
            finish();
          });
          const apply = (next: LoadProgress) => {
            if (next.done) return finish();
            const increment =
              next.percent !== undefined ? Math.max(0, next.percent - reportedPercent) : undefined;
            if (next.percent !== undefined) reportedPercent = next.percent;
            reporter.report({ message: next.message, increment });
          };
          this.loads.set(first.source, apply);
          apply(first);
        }),
    );
  }

  private fireState(): void {
    this.stateEmitter.fire(this.state);
  }
}
