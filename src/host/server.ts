// The model host: a Node process the extension starts on first use, speaking LSP over IPC.
// It can also be forked by tests and benchmarks; nothing here imports `vscode`.
import {
  createConnection,
  LSPErrorCodes,
  ProposedFeatures,
  ResponseError,
  type CancellationToken,
} from 'vscode-languageserver/node';
import { errorCodes, generateChunk, methods, trainProgress, type HostSettings } from '../protocol';
import { CancelledError, HostError } from './errors';
import { classifyText, classifyWholeDocument, zeroShot } from './tasks/classification';
import { generate } from './tasks/generation';
import { chooseWithDoubleHeads, chooseWithLanguageModel } from './tasks/multipleChoice';
import { answer as answerQuestion } from './tasks/questionAnswering';
import { tagDocument, toSpan } from './tasks/tagging';
import { trainHead } from './tasks/training/train';
import { ModelRegistry } from './models/registry';

const connection = createConnection(ProposedFeatures.all);
const started = Date.now();
let registry: ModelRegistry | undefined;
let settings: HostSettings | undefined;

function models(): ModelRegistry {
  if (!registry) throw new ResponseError(errorCodes.badInput, 'The model host is not initialised.');
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
      return new ResponseError<void>(LSPErrorCodes.RequestCancelled, 'The request was cancelled.');
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
    connection.console.error(`${method} failed: ${error instanceof Error ? error.stack : message}`);
    return new ResponseError<void>(errorCodes.modelLoadFailed, `The model host failed: ${message}`);
  }
}

connection.onInitialize((params) => {
  settings = params.initializationOptions as HostSettings;
  registry = new ModelRegistry(settings, (progress) =>
    connection.sendNotification(methods.loadProgress, progress),
  );
  return { capabilities: {}, serverInfo: { name: 'GPT-2 Heads model host' } };
});

connection.onNotification(methods.configure, (next) => {
  settings = next;
  models().configure(next);
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
      const result = await tagDocument(model, params.text, params, token);
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

connection.onRequest(methods.train, (params, token) =>
  answer(methods.train.method, token, async () => {
    models();
    const result = await trainHead(params, settings!, token, (progress) => {
      if (params.partialResultToken !== undefined) {
        void connection.sendProgress(trainProgress, params.partialResultToken, progress);
      }
    });
    return params.includePredictions ? result : { folder: result.folder, report: result.report };
  }),
);

connection.onShutdown(() => registry?.dispose());
connection.listen();
