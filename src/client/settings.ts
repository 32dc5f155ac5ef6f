// One typed getter per setting, read where used; defaults live in package.json only.
import * as vscode from 'vscode';
import {
  headRoles,
  type AggregationStrategy,
  type Dtype,
  type GenerationOptions,
  type HeadRole,
  type HostSettings,
} from '../protocol';

const section = 'gpt2Heads';

function config(resource?: vscode.Uri): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration(section, resource);
}

/**
 * Model paths may name local folders; in an untrusted workspace only the user's own settings
 * count (package.json lists these keys under restrictedConfigurations; VS Code already ignores
 * the workspace values there — reading `globalValue` makes that explicit here too).
 */
export function modelSource(role: HeadRole): string {
  const key = `${role}.model`;
  if (!vscode.workspace.isTrusted) {
    const inspected = config().inspect<string>(key);
    return (inspected?.globalValue ?? inspected?.defaultValue ?? '').trim();
  }
  return (config().get<string>(key) ?? '').trim();
}

export const settings = {
  offline: () => config().get<boolean>('offline') === true,
  sharedHost: () => config().get<boolean>('sharedHost') !== false,
  dtype: () => config().get<Dtype>('dtype') ?? 'auto',
  threads: () => config().get<number>('threads') ?? 0,
  cacheDirectory: () => (config().get<string>('cacheDirectory') ?? '').trim(),
  maxDocumentChars: () => config().get<number>('maxDocumentChars') ?? 500000,
  languages: () => config().get<string[]>('languages') ?? [],
  maxNewTokens: () => config().get<number>('generation.maxNewTokens') ?? 32,
  aggregationStrategy: () =>
    config().get<AggregationStrategy>('tagging.aggregationStrategy') ?? 'simple',
  ignoreLabels: () => config().get<string[]>('tagging.ignoreLabels') ?? ['O'],
  taggingContext: () => config().get<number>('tagging.context') ?? 0,
  autoTag: () => config().get<boolean>('tagging.auto') === true,
  taggingDebounceMs: () => config().get<number>('tagging.debounceMs') ?? 600,
  showLabels: () => config().get<boolean>('tagging.showLabels') !== false,
  labelColors: () => config().get<Record<string, string>>('tagging.colors') ?? {},
  sequenceClassification: () => config().get<boolean>('classification.sequence.enabled') !== false,
  documentClassification: () => config().get<boolean>('classification.document.enabled') !== false,
  functionToApply: () => {
    const value = config().get<string>('classification.functionToApply') ?? 'auto';
    return value === 'auto' ? undefined : (value as 'softmax' | 'sigmoid' | 'none');
  },
  classificationAggregation: () =>
    config().get<'mean' | 'max'>('classification.aggregation') ?? 'mean',
  classificationDebounceMs: () => config().get<number>('classification.debounceMs') ?? 500,
  zeroShotLabels: () => (config().get<string[]>('zeroShot.labels') ?? []).filter((l) => l.trim()),
  zeroShotTemplate: () => config().get<string>('zeroShot.template') ?? ' This text is about {}.',
  qaTopK: () => config().get<number>('qa.topK') ?? 3,
  qaMaxAnswerLen: () => config().get<number>('qa.maxAnswerLen') ?? 15,
  qaDocStride: () => config().get<number>('qa.docStride') || undefined,
  qaHandleImpossibleAnswer: () => config().get<boolean>('qa.handleImpossibleAnswer') === true,
  templates: () => config().get<Record<string, string>>('generation.templates') ?? {},
  maxSummaryTokens: () => config().get<number>('generation.maxSummaryTokens') ?? 60,
  inlineEnabled: () => config().get<boolean>('inline.enabled') === true,
  inlineMaxNewTokens: () => config().get<number>('inline.maxNewTokens') ?? 12,
  inlineStopAt: () => config().get<'line' | 'sentence' | 'none'>('inline.stopAt') ?? 'line',
  inlineDebounceMs: () => config().get<number>('inline.debounceMs') ?? 0,
};

/** Hugging Face generate() options from the settings; `overrides` win. */
export function generationOptions(overrides: GenerationOptions = {}): GenerationOptions {
  const seed = config().get<number>('generation.seed') ?? 0;
  return {
    do_sample: config().get<boolean>('generation.doSample') === true,
    temperature: config().get<number>('generation.temperature') ?? 1,
    top_k: config().get<number>('generation.topK') ?? 50,
    top_p: config().get<number>('generation.topP') ?? 1,
    repetition_penalty: config().get<number>('generation.repetitionPenalty') ?? 1,
    stop_strings: config().get<string[]>('generation.stopStrings') ?? [],
    seed: seed > 0 ? seed : undefined,
    max_new_tokens: settings.maxNewTokens(),
    ...overrides,
  };
}

/** Whether automatic features run on this document (commands run on any document). */
export function servesLanguage(document: vscode.TextDocument): boolean {
  return settings.languages().includes(document.languageId);
}

/** Settings whose change the host must hear about (it reloads the affected models). */
export const hostSettingKeys = [
  ...headRoles.map((role) => `${section}.${role}.model`),
  `${section}.offline`,
  `${section}.dtype`,
  `${section}.threads`,
  `${section}.cacheDirectory`,
];

export function hostSettings(globalStorage: vscode.Uri): HostSettings {
  return {
    models: Object.fromEntries(headRoles.map((role) => [role, modelSource(role)])) as Record<
      HeadRole,
      string
    >,
    offline: settings.offline(),
    cacheDir: settings.cacheDirectory() || vscode.Uri.joinPath(globalStorage, 'models').fsPath,
    dtype: settings.dtype(),
    threads: settings.threads(),
  };
}
