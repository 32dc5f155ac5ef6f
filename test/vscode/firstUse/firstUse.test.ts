// With the default settings (Hub ids for every head, online), opening a document downloads and
// starts nothing; the first command that needs a model asks first (the test answers through the
// extension's API), "Not Now" downloads nothing, "Download" is remembered.
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ConsentAnswer, ConsentQuestion } from '../../../src/client/firstUse';
import type { ClassifyResult } from '../../../src/protocol';
import { api, until } from '../suite/helpers';

const classifier = 'mnoukhov/gpt2-imdb-sentiment-classifier';

async function hubRequests(): Promise<string[]> {
  const response = await fetch(`${process.env.HF_ENDPOINT}/__requests`);
  return (await response.json()) as string[];
}

describe('first use with the default settings', function () {
  this.timeout(120_000);
  const questions: ConsentQuestion[] = [];
  let answer: ConsentAnswer = 'notNow';

  it('runs against the Hub stand-in with the default models', () => {
    assert.match(process.env.HF_ENDPOINT ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
    const models = vscode.workspace.getConfiguration('gpt2Heads');
    assert.equal(models.get('classification.model'), classifier);
    assert.equal(models.get('offline'), false);
  });

  it('opening a text file starts no host and makes no request; the status bar says what waits', async () => {
    const folder = vscode.workspace.workspaceFolders![0].uri;
    await vscode.window.showTextDocument(vscode.Uri.joinPath(folder, 'story.txt'));
    const extension = await api();
    // Longer than the old half second after which the default classifier was fetched unasked.
    await new Promise((done) => setTimeout(done, 3000));
    assert.equal(extension.hostState(), 'stopped');
    assert.deepEqual(await hubRequests(), []);
    const status = await until(() => extension.classificationStatus('document'), 'the status');
    assert.match(status, /waiting/);
  });

  it('the first command asks (which model, its size, where it goes); Not Now downloads nothing', async () => {
    const extension = await api();
    extension.answerDownloadQuestions(async (question) => {
      questions.push(question);
      return answer;
    });
    const result = await vscode.commands.executeCommand<ClassifyResult | undefined>(
      'gpt2Heads.classifyDocument',
    );
    assert.equal(result, undefined);
    assert.equal(questions.length, 1);
    const [question] = questions;
    assert.equal(question.source, classifier);
    assert.equal(question.role, 'classification');
    assert.ok(question.bytes !== undefined && question.bytes > 1e6, `size ${question.bytes}`);
    assert.ok(question.message.includes(classifier));
    assert.ok(question.message.includes(question.target));
    assert.match(question.message, /\d+\.\d MB/);
    assert.equal(extension.hostState(), 'stopped');
    // Only the file listing (for the size) was asked for: no file was downloaded.
    const requests = await hubRequests();
    assert.ok(requests.length > 0);
    assert.ok(requests.every((url) => url.startsWith(`/api/models/${classifier}/tree/main`)));
  });

  it('Download: the model downloads once, classifies with readable labels, and is not asked about again', async () => {
    answer = 'download';
    const result = await vscode.commands.executeCommand<ClassifyResult | undefined>(
      'gpt2Heads.classifyDocument',
    );
    assert.equal(questions.length, 2, 'a command asks again after Not Now');
    assert.ok(result, 'classified');
    // The stand-in's checkpoint has no id2label: classification.labelNames names LABEL_0/1.
    assert.deepEqual(result.labels.map((l) => l.label).sort(), ['negative', 'positive']);
    assert.ok((await hubRequests()).some((url) => url.startsWith(`/${classifier}/resolve/main/`)));
    const again = await vscode.commands.executeCommand<ClassifyResult | undefined>(
      'gpt2Heads.classifyDocument',
    );
    assert.ok(again);
    assert.equal(questions.length, 2, 'Download is remembered');
  });
});
