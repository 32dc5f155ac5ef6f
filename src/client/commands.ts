import * as vscode from 'vscode';
import { targetEditor } from './editors';
import type { FeatureContext } from './context';
import type { Tagger } from './tagging';
import type { SurprisalLens } from './surprisal';
import { continueText, summarizeSelection, transformSelection } from './generation';
import { toggleInlineSuggestions } from './inlineCompletions';
import { chooseModelFolder, openWalkthroughSample, walkthroughSampleEnd } from './walkthrough';
import { pickLabels, type Classifier } from './classification';
import { showModelStatus } from './modelStatus';
import { setEndpointApiKey } from './endpoints';
import { toggle } from './settings';
import { askQuestion, clearAnswerDecorations, type AskArguments } from './questionAnswering';
import { chooseBestOption, clearChoiceDecorations } from './multipleChoice';
import { goToEntity, revealSpan } from './entityTree';
import { trainHeadCommand, type TrainArguments } from './training';

/** What commands get: the features' context and the features that keep state. */
export interface Context extends FeatureContext {
  tagger: Tagger;
  classifier: Classifier;
  surprisal: SurprisalLens;
}

type Command = (ctx: Context, ...args: unknown[]) => unknown;

/** Every command of the extension; titles and the "GPT-2 Heads" category are in package.json. */
const commands: Record<string, Command> = {
  'gpt2Heads.continueText': async (ctx, target) =>
    continueText(ctx, target === 'walkthroughSample' ? await walkthroughSampleEnd(ctx) : undefined),
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
  'gpt2Heads.setEndpointApiKey': (ctx) => setEndpointApiKey(ctx.extension),
  'gpt2Heads.tagEntities': async (ctx, uri) =>
    ctx.tagger.tagCommand('ner', await documentUri(ctx, uri)),
  'gpt2Heads.tagPartsOfSpeech': async (ctx, uri) =>
    ctx.tagger.tagCommand('pos', await documentUri(ctx, uri)),
  'gpt2Heads.clearTags': (ctx) => {
    ctx.tagger.clear(targetEditor()?.document.uri);
    clearAnswerDecorations();
    clearChoiceDecorations();
  },
  'gpt2Heads.toggleAutoTag': () =>
    toggle('autoTag', (on) =>
      vscode.l10n.t('GPT-2 Heads: automatic tagging {0}', on ? 'on' : 'off'),
    ),
  'gpt2Heads.classifySelection': (ctx) => ctx.classifier.command('sequence'),
  'gpt2Heads.classifyDocument': (ctx) => ctx.classifier.command('document'),
  'gpt2Heads.pickClassificationLabels': () => pickLabels(),
  'gpt2Heads.showClassificationDetails': (ctx, scope) =>
    ctx.classifier.showDetails(scope === 'document' ? 'document' : 'sequence'),
  'gpt2Heads.askQuestion': (ctx, args) => askQuestion(ctx, (args ?? {}) as AskArguments),
  'gpt2Heads.chooseBestOption': (ctx) => chooseBestOption(ctx),
  'gpt2Heads.goToEntity': (ctx) => goToEntity(ctx.tagger),
  'gpt2Heads.trainHead': (ctx, args) => trainHeadCommand(ctx, (args ?? {}) as TrainArguments),
  'gpt2Heads.toggleSurprisal': (ctx) => ctx.surprisal.toggle(),
  'gpt2Heads.nextSurprisingToken': (ctx) => ctx.surprisal.goToNextSurprisingToken(),
  'gpt2Heads.revealSpan': (_ctx, uri, start, end) =>
    revealSpan(uri as vscode.Uri, Number(start), Number(end)),
};

/** A document's URI given to a command, or the walkthrough's sample when its buttons name it. */
async function documentUri(ctx: Context, value: unknown): Promise<vscode.Uri | undefined> {
  if (value === 'walkthroughSample') return (await openWalkthroughSample(ctx)).document.uri;
  return value instanceof vscode.Uri ? value : undefined;
}

export function registerCommands(ctx: Context): vscode.Disposable[] {
  return Object.entries(commands).map(([id, command]) =>
    vscode.commands.registerCommand(id, (...args: unknown[]) => command(ctx, ...args)),
  );
}
