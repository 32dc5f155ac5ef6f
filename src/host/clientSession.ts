// One client of the model host (a VS Code window, a test, the benchmark) on its own LSP
// connection: its requests run on the registry of its settings, shared with the other clients
// of the host that have the same settings.
import {
  LSPErrorCodes,
  ResponseError,
  type CancellationToken,
  type Connection,
} from 'vscode-languageserver';
import { errorCodes, generateChunk, methods, tagChunk, type HostSettings } from '../protocol';
import { CancelledError, HostError } from './errors';
import type { ModelRegistry } from './models/registry';
import type { PoolClient, RegistryPool } from './models/registryPool';
import { classifyText, classifyWholeDocument, zeroShot } from './tasks/classification';
import { generate } from './tasks/generation';
import { chooseWithDoubleHeads, chooseWithLanguageModel } from './tasks/multipleChoice';
import { answer as answerQuestion } from './tasks/questionAnswering';
import { tagDocument, toSpan } from './tasks/tagging';

const started = Date.now();

/** Registers the client's handlers; returns a function that detaches it from the pool. */
export function serveClient(
  connection: Connection,
  pool: RegistryPool,
  version: string,
): () => void {
  let registry: ModelRegistry | undefined;
  const client: PoolClient = {
    onProgress: (progress) =>
      void connection.sendNotification(methods.loadProgress, progress).catch(() => undefined),
  };

  function models(): ModelRegistry {
    if (!registry)
      throw new ResponseError(errorCodes.badInput, 'The model host is not initialised.');
    return registry;
  }

  /** Runs a request handler and turns failures into errors the client can show as they are. */
  async function answer<T>(
    method: string,
    token: CancellationToken,
    work: () => Promise<T>,
  ): Promise<T | ResponseError<void>> {
    try {
      const result = await work();
      if (token.isCancellationRequested) throw new CancelledError();
      return result;
    } catch (error) {
      if (error instanceof CancelledError || token.isCancellationRequested) {
        return new ResponseError<void>(
          LSPErrorCodes.RequestCancelled,
          'The request was cancelled.',
        );
      }
      if (error instanceof HostError) {
        connection.console.error(`${method}: ${error.message}`);
        return new ResponseError<void>(error.code, error.message);
      }
      const message = error instanceof Error ? error.message : String(error);
      // The pure heads reject impossible input (no tokens, no options) with a RangeError.
      if (error instanceof RangeError) {
        connection.console.error(`${method}: ${message}`);
        return new ResponseError<void>(errorCodes.badInput, message);
      }
      connection.console.error(
        `${method} failed: ${error instanceof Error ? error.stack : message}`,
      );
      return new ResponseError<void>(
        errorCodes.modelLoadFailed,
        `The model host failed: ${message}`,
      );
    }
  }

  connection.onInitialize((params) => {
    registry = pool.attach(client, params.initializationOptions as HostSettings);
    return { capabilities: {}, serverInfo: { name: 'GPT-2 Heads model host', version } };
  });

  connection.onNotification(methods.configure, (settings) => {
    registry = pool.reconfigure(client, settings);
  });
  connection.onNotification(methods.cancelLoad, ({ source }) => models().cancelLoad(source));

  connection.onRequest(methods.status, () => ({
    models: models().status(),
    pid: process.pid,
    rssBytes: process.memoryUsage().rss,
    uptimeMs: Date.now() - started,
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
    answer(methods.tag.method, token, () =>
      models().use(params.role, async (model) => {
        const { partialResultToken } = params;
        const result = await tagDocument(
          model,
          params.text,
          {
            ...params,
            onWindow:
              partialResultToken === undefined
                ? undefined
                : (entities) =>
                    void connection.sendProgress(tagChunk, partialResultToken, {
                      spans: entities.map(toSpan),
                    }),
          },
          token,
        );
        return {
          spans: result.entities.map(toSpan),
          model: model.source,
          windows: result.windows,
          cachedWindows: result.cachedWindows,
          tokens: result.tokens,
        };
      }),
    ),
  );

  connection.onRequest(methods.classify, (params, token) =>
    answer(methods.classify.method, token, async () => {
      const { zeroShot: zeroShotLabels } = params;
      if (zeroShotLabels) {
        return models().use('lm', async (model) => ({
          ...(await zeroShot(
            model,
            params.text,
            zeroShotLabels.labels,
            zeroShotLabels.template,
            token,
          )),
          model: model.source,
          zeroShot: true,
        }));
      }
      return models().use('classification', async (model) => ({
        ...(params.scope === 'document'
          ? await classifyWholeDocument(model, params.text, params, token)
          : await classifyText(model, params.text, params)),
        model: model.source,
        zeroShot: false,
      }));
    }),
  );

  connection.onRequest(methods.answer, (params, token) =>
    answer(methods.answer.method, token, () =>
      models().use('qa', async (model) => ({
        answers: await answerQuestion(model, params.question, params.context, params, token),
        model: model.source,
      })),
    ),
  );

  connection.onRequest(methods.choose, (params, token) =>
    answer(methods.choose.method, token, () =>
      models().isConfigured('multipleChoice')
        ? models().use('multipleChoice', async (model) => ({
            ...(await chooseWithDoubleHeads(model, params.context, params.options)),
            model: model.source,
          }))
        : models().use('lm', async (model) => ({
            ...(await chooseWithLanguageModel(model, params.context, params.options, token)),
            model: model.source,
          })),
    ),
  );

  return () => pool.detach(client);
}
