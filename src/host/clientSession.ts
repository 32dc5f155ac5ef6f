// One client of the model host (a VS Code window, a test, the benchmark) on its own LSP
// connection: its requests run on the registry of its settings, shared with the other clients
// of the host that have the same settings. Nothing here imports `vscode`.
import {
  LSPErrorCodes,
  ResponseError,
  TextDocumentSyncKind,
  type CancellationToken,
  type Connection,
  type ProgressToken,
} from 'vscode-languageserver';
import {
  errorCodes,
  generateChunk,
  headFor,
  methods,
  tagChunk,
  trainProgress,
  windowProgress,
  type ErrorData,
  type HostSettings,
  type ServerStatus,
  type TaggedSpan,
} from '../protocol';
import { SessionDocuments } from './documents';
import { CancelledError, HostError, type Cancellation } from './errors';
import type { ModelRegistry } from './models/registry';
import { atRest } from './idleGc';
import type { PoolClient, RegistryPool } from './models/registryPool';
import { withEndpointHealth } from './models/remote/remoteModel';
import { classifyRequest } from './tasks/classification';
import { generate } from './tasks/generation';
import { chooseRequest } from './tasks/multipleChoice';
import { answerRequest } from './tasks/questionAnswering';
import { surprisalResult } from './tasks/surprisal';
import { tagRequest } from './tasks/tagging';
import { encodeCacheStatus } from './tasks/run';
import { trainHead } from './tasks/training/train';

const started = Date.now();

/** Registers the client's handlers; returns a function that detaches it from the pool. */
export function serveClient(
  connection: Connection,
  pool: RegistryPool,
  version: string,
): () => void {
  let registry: ModelRegistry | undefined;
  let settings: HostSettings;
  /** Requests being answered, for the status's quiescence. */
  let running = 0;
  /** The documents this client synchronised: tag and classify requests may name them. */
  const documents = new SessionDocuments(connection);
  const client: PoolClient = {
    onProgress: (progress) => {
      void connection.sendNotification(methods.loadProgress, progress).catch(() => undefined);
      pushStatus();
    },
  };

  /** Sends a tag request's finished windows as partial results, when the client asked for them. */
  function partialsOf(token: ProgressToken | undefined) {
    if (token === undefined) return undefined;
    return (spans: TaggedSpan[]) => void connection.sendProgress(tagChunk, token, { spans });
  }

  function models(): ModelRegistry {
    if (!registry) {
      throw new ResponseError<ErrorData>(
        errorCodes.badInput,
        'The model host is not initialised.',
        {
          kind: 'internal',
        },
      );
    }
    return registry;
  }

  function serverStatus(): ServerStatus {
    const held = (registry?.status() ?? []).map(({ source, roles, state, error }) => ({
      source,
      roles,
      state,
      error,
    }));
    const failed = held.filter((model) => model.state === 'error' && model.roles.length > 0);
    const loading = held.some((model) => model.state === 'loading');
    return {
      health: failed.length > 0 ? 'error' : 'ok',
      quiescent: running === 0 && !loading,
      message:
        failed.length > 0
          ? failed.map((model) => model.error ?? `"${model.source}" failed to load.`).join('\n')
          : undefined,
      models: held,
    };
  }

  let statusTimer: ReturnType<typeof setTimeout> | undefined;
  let lastStatus = '';

  /** Tells the client the host's state once things settle (changes come in bursts). */
  function pushStatus(): void {
    statusTimer ??= setTimeout(() => {
      statusTimer = undefined;
      sendStatus();
    }, 30);
  }

  function sendStatus(): void {
    const status = serverStatus();
    const key = JSON.stringify(status);
    if (key === lastStatus) return;
    lastStatus = key;
    void connection.sendNotification(methods.serverStatus, status);
  }

  /** The request's cancellation, with window progress reported as the client's work-done token. */
  function withProgress(
    token: CancellationToken,
    workDoneToken: ProgressToken | undefined,
  ): Cancellation {
    let percent = -1;
    return {
      get isCancellationRequested() {
        return token.isCancellationRequested;
      },
      report: (done, total) => {
        const next = Math.floor((100 * done) / Math.max(total, 1));
        if (workDoneToken === undefined || next === percent) return;
        percent = next;
        void connection.sendProgress(windowProgress, workDoneToken, { done, total });
      },
    };
  }

  /** Runs a request handler and turns failures into errors with data the client acts on. */
  async function answer<T>(
    method: string,
    token: CancellationToken,
    work: () => Promise<T>,
  ): Promise<T | ResponseError<ErrorData>> {
    running++;
    // Becoming busy is said at once, so even a short request is seen as one.
    if (running === 1) sendStatus();
    else pushStatus();
    try {
      const result = await work();
      if (token.isCancellationRequested) throw new CancelledError();
      return result;
    } catch (error) {
      if (error instanceof CancelledError || token.isCancellationRequested) {
        return new ResponseError(LSPErrorCodes.RequestCancelled, 'The request was cancelled.', {
          kind: 'cancelled',
        });
      }
      if (error instanceof HostError) {
        connection.console.error(`${method}: ${error.message}`);
        return new ResponseError(error.code, error.message, error.data);
      }
      const message = error instanceof Error ? error.message : String(error);
      // The pure heads reject impossible input (no tokens, no options) with a RangeError.
      if (error instanceof RangeError) {
        connection.console.error(`${method}: ${message}`);
        return new ResponseError(errorCodes.badInput, message, { kind: 'badInput' });
      }
      connection.console.error(
        `${method} failed: ${error instanceof Error ? error.stack : message}`,
      );
      return new ResponseError(errorCodes.modelLoadFailed, `The model host failed: ${message}`, {
        kind: 'internal',
      });
    } finally {
      running--;
      pushStatus();
    }
  }

  connection.onInitialize((params) => {
    settings = params.initializationOptions as HostSettings;
    registry = pool.attach(client, settings);
    return {
      capabilities: { textDocumentSync: TextDocumentSyncKind.Incremental },
      serverInfo: { name: 'GPT-2 Heads model host', version },
    };
  });

  connection.onInitialized(() => pushStatus());

  connection.onNotification(methods.configure, (next) => {
    settings = next;
    registry = pool.reconfigure(client, next);
    pushStatus();
  });
  connection.onNotification(methods.cancelLoad, ({ source }) => models().cancelLoad(source));

  connection.onRequest(methods.status, async () => ({
    models: await withEndpointHealth(models().status(), settings),
    pid: process.pid,
    rssBytes: process.memoryUsage().rss,
    atRest: atRest(),
    uptimeMs: Date.now() - started,
    clients: pool.clientCount,
    encodeCache: encodeCacheStatus(),
  }));

  connection.onRequest(methods.generate, (params, token) =>
    answer(methods.generate.method, token, () =>
      models().use('lm', (model) =>
        generate(model, params, token, (text) => {
          if (params.partialResultToken !== undefined) {
            void connection.sendProgress(generateChunk, params.partialResultToken, { text });
          }
        }),
      ),
    ),
  );

  connection.onRequest(methods.tag, (params, token) =>
    answer(methods.tag.method, token, async () => {
      // Read at once: the document may change while the model loads.
      const text = await documents.textOf(params, token);
      return models().use(params.role, (model) =>
        tagRequest(
          model,
          { ...params, text },
          withProgress(token, params.workDoneToken),
          partialsOf(params.partialResultToken),
        ),
      );
    }),
  );

  connection.onRequest(methods.classify, (params, token) =>
    answer(methods.classify.method, token, async () => {
      const text = await documents.textOf(params, token);
      return models().use(params.zeroShot ? 'lm' : 'classification', (model) =>
        classifyRequest(model, { ...params, text }, withProgress(token, params.workDoneToken)),
      );
    }),
  );

  connection.onRequest(methods.answer, (params, token) =>
    answer(methods.answer.method, token, () =>
      models().use('qa', (model) =>
        answerRequest(model, params, withProgress(token, params.workDoneToken)),
      ),
    ),
  );

  connection.onRequest(methods.choose, (params, token) =>
    answer(methods.choose.method, token, () =>
      headFor('multipleChoice', (role) => models().isConfigured(role)) === 'multipleChoice'
        ? models().use('multipleChoice', (model) =>
            chooseRequest(model, params, token, 'double-heads'),
          )
        : models().use('lm', (model) => chooseRequest(model, params, token, 'language-model')),
    ),
  );

  connection.onRequest(methods.train, (params, token) =>
    answer(methods.train.method, token, async () => {
      models();
      const result = await trainHead(params, settings, token, (progress) => {
        if (params.partialResultToken !== undefined) {
          void connection.sendProgress(trainProgress, params.partialResultToken, progress);
        }
      });
      return params.includePredictions ? result : { folder: result.folder, report: result.report };
    }),
  );

  connection.onRequest(methods.surprisal, (params, token) =>
    answer(methods.surprisal.method, token, async () => {
      const text = await documents.textOf(params, token);
      return models().use('lm', (model) => surprisalResult(model, { ...params, text }, token));
    }),
  );

  return () => {
    if (statusTimer) clearTimeout(statusTimer);
    documents.dispose();
    pool.detach(client);
  };
}
