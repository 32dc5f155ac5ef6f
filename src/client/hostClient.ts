import * as vscode from 'vscode';
import {
  CloseAction,
  ErrorAction,
  ErrorCodes,
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
  VersionedTextDocumentIdentifier,
} from 'vscode-languageserver-protocol';
import {
  errorCodes,
  methods,
  windowProgress,
  type ErrorData,
  type LoadProgress,
  type ServerStatus,
  type WindowProgress,
} from '../protocol';
import { hostSettingKeys, hostSettings, settings } from './settings';
import { connectToSharedHost, hostTag } from './sharedHost';
import { endpointKeyEnvironment, registerEndpointKey } from './endpoints';
import { DocumentSync } from './documentSync';
import { modelDisplayName } from '../text/modelName';

export type HostState = 'stopped' | 'starting' | 'ready' | 'busy' | 'error';

/** How many crashes within `crashWindowMs` the host survives before it stays down. */
const maxCrashes = 4;
const crashWindowMs = 3 * 60_000;

/** After a crash, the tooltip says so until the host has run this long without trouble. */
const healthyPeriodMs = 60_000;

/** What the user is told the host was doing when it went away, by request. */
const doing: Record<string, string> = {
  [methods.tag.method]: 'tagging',
  [methods.classify.method]: 'classifying',
  [methods.answer.method]: 'looking for the answer',
  [methods.choose.method]: 'scoring the options',
  [methods.generate.method]: 'generating text',
  [methods.status.method]: 'reading the model status',
};

/** The transport's codes for a connection that went away with requests still pending. */
const transportErrors = new Set<number>([
  ErrorCodes.PendingResponseRejected,
  ErrorCodes.ConnectionInactive,
  ErrorCodes.MessageWriteError,
  ErrorCodes.MessageReadError,
]);

/** A request failed for a reason the user should see as it is; `data` says what fixes it. */
export class HostRequestError extends Error {
  constructor(
    message: string,
    readonly data?: ErrorData,
    /** The host logged it already (it logs each failed request once). */
    readonly loggedByHost = false,
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
  /** The documents the running client has sent to its host (in the client's scope). */
  private documents: DocumentSync | undefined;
  private starting: Promise<LanguageClient> | undefined;
  private crashes: number[] = [];
  private lastError: string | undefined;
  private serverStatus: ServerStatus | undefined;
  private readonly stateEmitter = new vscode.EventEmitter<HostState>();
  private readonly stopEmitter = new vscode.EventEmitter<void>();
  private readonly statusEmitter = new vscode.EventEmitter<ServerStatus>();
  private readonly loads = new Map<string, (progress: LoadProgress) => void>();
  /** The extension's scope: lives as long as this object. */
  private readonly disposables: vscode.Disposable[] = [];
  /** The language client's scope: handlers on one client, released when it is replaced. */
  private clientScope: vscode.Disposable[] = [];
  private forgetRestart: ReturnType<typeof setTimeout> | undefined;
  readonly onDidChangeState = this.stateEmitter.event;
  /** The host went away (crash, restart, stop): features drop their spinners and pending work. */
  readonly onDidStop = this.stopEmitter.event;
  /** The host said how it is (each serverStatus notification, once). */
  readonly onDidChangeStatus = this.statusEmitter.event;

  constructor(
    private readonly context: vscode.ExtensionContext,
    readonly log: vscode.LogOutputChannel,
  ) {
    this.disposables.push(
      this.stateEmitter,
      this.stopEmitter,
      this.statusEmitter,
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (this.client && hostSettingKeys.some((key) => event.affectsConfiguration(key))) {
          void this.client.sendNotification(methods.configure, this.settings());
        }
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => {
        if (this.client) void this.client.sendNotification(methods.configure, this.settings());
      }),
      // The endpoint API key lives in SecretStorage and reaches the host in its environment.
      ...registerEndpointKey(context, () => {
        if (this.client) void this.restart();
      }),
    );
  }

  get state(): HostState {
    if (this.lastError && !this.client?.isRunning()) return 'error';
    if (!this.client) return this.starting ? 'starting' : 'stopped';
    if (this.client.state === State.Starting) return 'starting';
    if (this.client.state === State.Stopped) return this.lastError ? 'error' : 'stopped';
    return this.serverStatus && !this.serverStatus.quiescent ? 'busy' : 'ready';
  }

  /** Runs before every request (first use: asks before a model download); may throw. */
  beforeRequest: ((method: string, params: unknown) => Promise<void>) | undefined;

  /** What the running host last said about itself (health, models), as it pushes it. */
  get status(): ServerStatus | undefined {
    return this.client?.isRunning() ? this.serverStatus : undefined;
  }

  /**
   * When the host last stopped unexpectedly and was restarted; forgotten after a manual restart
   * and once the host has since run for a while without trouble.
   */
  lastRestart: Date | undefined;

  get errorMessage(): string | undefined {
    return this.lastError;
  }

  /** Sends a request, starting the host first if needed. Cancelling the token cancels it there. */
  async request<P, R>(
    type: RequestType<P, R, ErrorData> | ProtocolRequestType<P, R, unknown, ErrorData, unknown>,
    params: P,
    token?: vscode.CancellationToken,
  ): Promise<R>;
  async request<R>(type: RequestType0<R, ErrorData>, token?: vscode.CancellationToken): Promise<R>;
  async request(type: unknown, ...args: unknown[]): Promise<unknown> {
    const method = (type as { method: string }).method;
    await this.beforeRequest?.(method, args[0]);
    const client = await this.start();
    // A request that names a document goes after the notifications that bring the host its text.
    const textDocument = (args[0] as { textDocument?: VersionedTextDocumentIdentifier } | undefined)
      ?.textDocument;
    if (textDocument) await this.documents?.prepare(textDocument);
    try {
      return await (client.sendRequest as (...a: unknown[]) => Promise<unknown>)(type, ...args);
    } catch (error) {
      throw this.describe(error, method);
    }
  }

  /** Sends a request over windows of a document; `onWindows`, if given, hears how many are done. */
  async requestWithProgress<P extends { workDoneToken?: string | number }, R>(
    type: RequestType<P, R, ErrorData>,
    params: P,
    onWindows: ((progress: WindowProgress) => void) | undefined,
    token?: vscode.CancellationToken,
  ): Promise<R> {
    if (!onWindows) return this.request(type, params, token);
    const client = await this.prepare(type.method, params);
    const workDoneToken = `gpt2Heads-work-${Date.now()}-${++this.partialCounter}`;
    const subscription = client.onProgress(windowProgress, workDoneToken, onWindows);
    try {
      return await this.request(type, { ...params, workDoneToken }, token);
    } finally {
      subscription.dispose();
    }
  }

  /** Sends a request whose partial results (e.g. generated text) arrive through `onPartial`. */
  async requestWithPartials<P extends { partialResultToken?: string | number }, R, C>(
    type: ProtocolRequestType<P, R, C, ErrorData, unknown>,
    partials: ProgressType<C>,
    params: P,
    onPartial: (chunk: C) => void,
    token?: vscode.CancellationToken,
  ): Promise<R> {
    const client = await this.prepare(type.method, params);
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

  /**
   * The running client for a request that subscribes to its progress first: asks what must be
   * asked before the request (first use) and only then starts the host.
   */
  async prepare(method: string, params: unknown): Promise<LanguageClient> {
    await this.beforeRequest?.(method, params);
    return this.start();
  }

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
    this.lastRestart = undefined;
    // The shared host serves other windows too: it ends gracefully, and they reconnect.
    const client = this.client;
    if (client?.isRunning() && settings.sharedHost()) {
      const status = await client.sendRequest(methods.status).catch(() => undefined);
      try {
        if (status) process.kill(status.pid, 'SIGTERM');
      } catch {
        // It has already gone.
      }
    }
    await this.stop();
    await this.start();
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.releaseClientScope();
    if (client) await client.dispose(2000).catch(() => undefined);
    this.hostWentAway();
    this.fireState();
  }

  dispose(): void {
    void this.stop();
    if (this.forgetRestart) clearTimeout(this.forgetRestart);
    for (const disposable of this.disposables) disposable.dispose();
  }

  private releaseClientScope(): void {
    for (const disposable of this.clientScope) disposable.dispose();
    this.clientScope = [];
    this.documents = undefined;
  }

  /** Ends what waited on the host that went away: load notifications, spinners, stale status. */
  private hostWentAway(): void {
    this.serverStatus = undefined;
    for (const finish of [...this.loads.values()]) finish({ source: '', message: '', done: true });
    this.latestLoad.clear();
    this.stopEmitter.fire();
  }

  private settings() {
    return hostSettings(this.context.globalStorageUri);
  }

  private async createAndStart(): Promise<LanguageClient> {
    const module = this.context.asAbsolutePath('dist/host.js');
    const env = endpointKeyEnvironment();
    const tag = hostTag(String(this.context.extension.packageJSON.version), module);
    const serverOptions: ServerOptions = settings.sharedHost()
      ? async () => {
          // After a crash the dying host may still accept for a moment: let it go first.
          if (this.lastRestart) await new Promise((resolve) => setTimeout(resolve, 250));
          const socket = await connectToSharedHost({ hostModule: module, tag, env });
          return { reader: socket, writer: socket };
        }
      : {
          run: { module, transport: TransportKind.ipc, options: { env } },
          debug: {
            module,
            transport: TransportKind.ipc,
            options: { env, execArgv: ['--inspect=6010'] },
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
    this.releaseClientScope();
    this.client = client;
    this.documents = new DocumentSync(client);
    this.clientScope.push(
      this.documents,
      client.onDidChangeState((event) => {
        if (event.newState === State.Stopped && this.client === client) this.hostWentAway();
        this.fireState();
      }),
      // Registered before start: the client keeps them across the restarts after a crash.
      client.onNotification(methods.loadProgress, (progress) => this.showLoadProgress(progress)),
      client.onNotification(methods.serverStatus, (status) => this.onServerStatus(status)),
    );
    this.lastError = undefined;
    this.fireState();
    try {
      await client.start();
    } catch (error) {
      this.client = undefined;
      this.releaseClientScope();
      this.lastError = `The model host did not start: ${(error as Error).message}`;
      this.fireState();
      throw new HostRequestError(this.lastError);
    }
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
    this.scheduleForgetRestart();
    this.log.warn('The model host stopped unexpectedly; restarting it.');
    this.fireState();
    return { action: CloseAction.Restart, handled: true };
  }

  private onServerStatus(status: ServerStatus): void {
    this.serverStatus = status;
    this.statusEmitter.fire(status);
    this.fireState();
  }

  /** Forgets the crash once the host has been healthy for a while since it came back. */
  private scheduleForgetRestart(): void {
    if (this.forgetRestart) clearTimeout(this.forgetRestart);
    this.forgetRestart = setTimeout(() => {
      this.forgetRestart = undefined;
      if (!this.lastRestart) return;
      if (this.state === 'ready' && this.serverStatus?.health !== 'error') {
        this.lastRestart = undefined;
        this.fireState();
      } else {
        this.scheduleForgetRestart();
      }
    }, healthyPeriodMs);
  }

  /** A failed request as the user should see it: the host's message and data, or plain words. */
  private describe(error: unknown, method: string): Error {
    if (error instanceof ResponseError && !transportErrors.has(error.code)) {
      // The document changed after the request was made: whoever asked asks again for the new text.
      if (error.code === errorCodes.cancelled || error.code === errorCodes.contentModified) {
        return new vscode.CancellationError();
      }
      const data = error.data as ErrorData | undefined;
      return new HostRequestError(error.message, data, data !== undefined);
    }
    if (error instanceof vscode.CancellationError) return error;
    // The connection went away with the request pending: the host crashed or was restarted.
    const what = doing[method] ?? 'working';
    const message = this.crashedTooOften
      ? `The model host stopped while ${what} and was not restarted: ${this.lastError ?? ''}`
      : `The model host stopped while ${what}; it was restarted — try again.`;
    return new HostRequestError(message.trim(), { kind: 'hostStopped' });
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
        title: `GPT-2 Heads: loading ${modelDisplayName(first.source)}`,
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
