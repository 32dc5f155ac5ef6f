import * as vscode from 'vscode';
import { targetEditor } from './editors';
import type { Context } from './context';
import { continueText, summarizeSelection, transformSelection } from './generation';
import { toggleInlineSuggestions } from './inlineCompletions';
import { chooseModelFolder, openWalkthroughSample } from './walkthrough';
import { pickLabels } from './classification';
import { showModelStatus } from './modelStatus';
import {
  askQuestion,
  chooseBestOption,
  clearAnswerDecorations,
  type AskArguments,
} from './questionAnswering';
import { goToEntity, revealRange } from './tagging';
import { trainHeadCommand, type TrainArguments } from './training';

type Command = (ctx: Context, ...args: unknown[]) => unknown;

/** Every command of the extension; titles and the "GPT-2 Heads" category are in package.json. */
const commands: Record<string, Command> = {
  'gpt2Heads.continueText': (ctx) => continueText(ctx),
  'gpt2Heads.summarizeSelection': (ctx) => summarizeSelection(ctx),
  'gpt2Heads.transformSelection': (ctx, name) =>
    transformSelection(ctx, typeof name === 'string' ? name : undefined),
  'gpt2Heads.toggleInlineSuggestions': () => toggleInlineSuggestions(),
  'gpt2Heads.chooseModelFolder': (_ctx, role) => chooseModelFolder(role),
  'gpt2Heads.openWalkthroughSample': (ctx) => openWalkthroughSample(ctx),
  'gpt2Heads.showModelStatus': (ctx) => showModelStatus(ctx),
  'gpt2Heads.restartHost': async (ctx) => {
    await ctx.host.restart();
    void vscode.window.setStatusBarMessage(
      vscode.l10n.t('GPT-2 Heads: model host restarted'),
      3000,
    );
  },
  'gpt2Heads.showLog': (ctx) => ctx.log.show(),
  'gpt2Heads.tagEntities': (ctx, uri) => ctx.tagger.tagCommand('ner', asUri(uri)),
  'gpt2Heads.tagPartsOfSpeech': (ctx, uri) => ctx.tagger.tagCommand('pos', asUri(uri)),
  'gpt2Heads.clearTags': (ctx) => {
    ctx.tagger.clear(targetEditor()?.document.uri);
    clearAnswerDecorations();
  },
  'gpt2Heads.toggleAutoTag': async () => {
    const config = vscode.workspace.getConfiguration('gpt2Heads');
    const next = !config.get<boolean>('tagging.auto');
    await config.update('tagging.auto', next, vscode.ConfigurationTarget.Global);
    void vscode.window.setStatusBarMessage(
      vscode.l10n.t('GPT-2 Heads: automatic tagging {0}', next ? 'on' : 'off'),
      3000,
    );
    return next;
  },
  'gpt2Heads.classifySelection': (ctx) => ctx.classifier.command('sequence'),
  'gpt2Heads.classifyDocument': (ctx) => ctx.classifier.command('document'),
  'gpt2Heads.pickClassificationLabels': () => pickLabels(),
  'gpt2Heads.showClassificationDetails': (ctx, scope) =>
    ctx.classifier.showDetails(scope === 'document' ? 'document' : 'sequence'),
  'gpt2Heads.askQuestion': (ctx, args) => askQuestion(ctx, (args ?? {}) as AskArguments),
  'gpt2Heads.chooseBestOption': (ctx) => chooseBestOption(ctx),
  'gpt2Heads.goToEntity': (ctx) => goToEntity(ctx.tagger),
  'gpt2Heads.trainHead': (ctx, args) => trainHeadCommand(ctx, (args ?? {}) as TrainArguments),
  'gpt2Heads.revealSpan': async (_ctx, uri, start, end) => {
    const document = await vscode.workspace.openTextDocument(uri as vscode.Uri);
    const editor = await vscode.window.showTextDocument(document);
    revealRange(
      editor,
      new vscode.Range(document.positionAt(Number(start)), document.positionAt(Number(end))),
    );
  },
};

function asUri(value: unknown): vscode.Uri | undefined {
  return value instanceof vscode.Uri ? value : undefined;
}

export function registerCommands(ctx: Context): vscode.Disposable[] {
  return Object.entries(commands).map(([id, command]) =>
    vscode.commands.registerCommand(id, (...args: unknown[]) => command(ctx, ...args)),
  );
}
