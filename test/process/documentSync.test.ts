// The editor sends a document's text once (LSP didOpen, then incremental didChange) and names it
// in its tag and classify requests; the host tokenises it once for NER, POS and classification.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ResponseError } from 'vscode-jsonrpc/node';
import {
  DidChangeTextDocumentNotification,
  DidCloseTextDocumentNotification,
  DidOpenTextDocumentNotification,
  type TextDocumentContentChangeEvent,
} from 'vscode-languageserver-protocol';
import { TextDocument } from 'vscode-languageserver-textdocument';
import {
  errorCodes,
  methods,
  type ClassifyOptions,
  type ErrorData,
  type SurprisalResult,
  type TagOptions,
  type TagResult,
  type TextOrDocument,
} from '../../src/protocol';
import { hostSettings, startHost, type HostProcess } from '../support/hostProcess';
import { fixtureModels, fixturesDir, repoRoot } from '../support/fixtures';

const cases = JSON.parse(readFileSync(join(fixturesDir, 'cases.json'), 'utf8')) as {
  texts: { id: string; text: string }[];
};
const paragraph = cases.texts.find((entry) => entry.id === 'long_text')!.text;

async function rejection(promise: Promise<unknown>): Promise<ResponseError<ErrorData>> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ResponseError, `expected a ResponseError, got ${String(error)}`);
    return error as ResponseError<ErrorData>;
  }
  assert.fail('the request succeeded but should have failed');
}

/** What a result says about the text, without how much of it came from the window cache. */
function ofText({ cachedWindows: _cached, ...rest }: TagResult) {
  return rest;
}

/** The same for the surprisal lens: what it says about the text, not what was recomputed. */
function surprisalOfText({
  cachedWindows: _cached,
  recomputed: _recomputed,
  ...rest
}: SurprisalResult) {
  return rest;
}

describe('documents synchronised with the host', function () {
  this.timeout(120_000);
  let host: HostProcess;
  let documentCount = 0;

  before(async () => {
    host = await startHost(
      repoRoot,
      hostSettings({
        ner: fixtureModels.ner,
        pos: fixtureModels.pos,
        classification: fixtureModels.classification,
        lm: fixtureModels.lm,
      }),
    );
  });
  after(() => host.stop());

  /** Opens a new document on the host; `edit` changes it there and in the local copy. */
  async function open(text: string) {
    let local = TextDocument.create(`untitled:sync-${++documentCount}`, 'plaintext', 1, text);
    await host.connection.sendNotification(DidOpenTextDocumentNotification.type, {
      textDocument: { uri: local.uri, languageId: 'plaintext', version: 1, text },
    });
    return {
      get uri() {
        return local.uri;
      },
      get current() {
        return local;
      },
      async edit(changes: TextDocumentContentChangeEvent[]) {
        local = TextDocument.update(local, changes, local.version + 1);
        await host.connection.sendNotification(DidChangeTextDocumentNotification.type, {
          textDocument: { uri: local.uri, version: local.version },
          contentChanges: changes,
        });
      },
      named(): TextOrDocument {
        return { textDocument: { uri: local.uri, version: local.version } };
      },
    };
  }

  const tagOptions = (role: 'ner' | 'pos'): TagOptions => ({
    role,
    aggregation_strategy: 'simple',
  });
  const classifyOptions: ClassifyOptions = { scope: 'document' };

  it('tags and classifies an incrementally edited document by its URI as if its text were sent', async () => {
    const document = await open(`Part one.\r\n${paragraph}\n\nPart two.\n${paragraph}`);
    const firstLine = document.current.getText().indexOf('\r\n');
    await document.edit([
      // Typing at the end of the first line, a line break and an emoji on a new line…
      {
        range: { start: { line: 0, character: firstLine }, end: { line: 0, character: firstLine } },
        text: ' Ada Lovelace met Charles Babbage in London.',
      },
      {
        range: { start: { line: 1, character: 0 }, end: { line: 1, character: 0 } },
        text: '🙂 Grace Hopper\n',
      },
    ]);
    // …deleting a stretch that spans lines…
    await document.edit([
      { range: { start: { line: 3, character: 5 }, end: { line: 5, character: 2 } }, text: '' },
    ]);
    // …and replacing a word.
    await document.edit([
      {
        range: { start: { line: 0, character: 0 }, end: { line: 0, character: 4 } },
        text: 'Chapter',
      },
    ]);
    const text = document.current.getText();
    assert.ok(text.startsWith('Chapter one. Ada Lovelace'), text.slice(0, 40));

    for (const role of ['ner', 'pos'] as const) {
      const named = await host.connection.sendRequest(methods.tag, {
        ...tagOptions(role),
        ...document.named(),
      });
      const sent = await host.connection.sendRequest(methods.tag, { ...tagOptions(role), text });
      assert.ok(named.spans.length > 0, `${role} finds spans`);
      assert.deepEqual(ofText(named), ofText(sent), role);
    }
    const named = await host.connection.sendRequest(methods.classify, {
      ...classifyOptions,
      ...document.named(),
    });
    const sent = await host.connection.sendRequest(methods.classify, {
      ...classifyOptions,
      text,
    });
    assert.deepEqual(named, sent);
    // The surprisal lens reads the document by its URI too.
    const surprisalNamed = surprisalOfText(
      await host.connection.sendRequest(methods.surprisal, { ...document.named(), top_k: 3 }),
    );
    const surprisalSent = surprisalOfText(
      await host.connection.sendRequest(methods.surprisal, { text, top_k: 3 }),
    );
    assert.ok(surprisalNamed.offsets.length > 0);
    assert.deepEqual(surprisalNamed, surprisalSent);
  });

  it('tokenises a document once for its NER, POS and classification requests', async () => {
    const document = await open(`${paragraph}\nA text no other test sends.`);
    const before = (await host.connection.sendRequest(methods.status)).encodeCache;
    await host.connection.sendRequest(methods.tag, { ...tagOptions('ner'), ...document.named() });
    await host.connection.sendRequest(methods.tag, { ...tagOptions('pos'), ...document.named() });
    await host.connection.sendRequest(methods.classify, {
      ...classifyOptions,
      ...document.named(),
    });
    const after = (await host.connection.sendRequest(methods.status)).encodeCache;
    assert.equal(after.misses - before.misses, 1, 'tokenised once');
    assert.equal(after.hits - before.hits, 2, 'then found tokenised twice');
    assert.ok(after.bytes > 0 && after.bytes <= after.maxBytes);
  });

  it('says the document changed when a request names a version the host has moved past', async () => {
    const document = await open('Ada Lovelace lived in London.');
    const old = document.named();
    await document.edit([{ text: 'Grace Hopper lived in New York.' }]);
    const error = await rejection(
      host.connection.sendRequest(methods.tag, { ...tagOptions('ner'), ...old }),
    );
    assert.equal(error.code, errorCodes.contentModified);
    assert.equal(error.data?.kind, 'contentModified');
  });

  it('waits for a change that is still on its way, then answers for the version asked', async () => {
    const document = await open('Ada Lovelace lived in London.');
    const next = {
      textDocument: { uri: document.uri, version: document.current.version + 1 },
    };
    const answer = host.connection.sendRequest(methods.tag, { ...tagOptions('ner'), ...next });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await document.edit([{ text: 'Grace Hopper lived in New York.' }]);
    const expected = await host.connection.sendRequest(methods.tag, {
      ...tagOptions('ner'),
      text: 'Grace Hopper lived in New York.',
    });
    assert.deepEqual((await answer).spans, expected.spans);
  });

  it('refuses a document the client never opened, or closed', async () => {
    const neverOpened = await rejection(
      host.connection.sendRequest(methods.classify, {
        ...classifyOptions,
        textDocument: { uri: 'untitled:never-opened', version: 1 },
      }),
    );
    assert.equal(neverOpened.code, errorCodes.documentNotSynced);
    assert.equal(neverOpened.data?.kind, 'documentNotSynced');

    const document = await open('Ada Lovelace lived in London.');
    const named = document.named();
    await host.connection.sendNotification(DidCloseTextDocumentNotification.type, {
      textDocument: { uri: document.uri },
    });
    const closed = await rejection(
      host.connection.sendRequest(methods.tag, { ...tagOptions('ner'), ...named }),
    );
    assert.equal(closed.data?.kind, 'documentNotSynced');
  });
});
