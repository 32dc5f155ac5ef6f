// One typed getter per setting, read where used; defaults live in package.json only.
import * as vscode from 'vscode';
import {
  headRoles,
  modelsFor,
  taskTable,
  type AggregationStrategy,
  type Dtype,
  type GenerationOptions,
  type HeadRole,
  type HostSettings,
} from '../protocol';
import { endpointSettingKeys, endpointSettings } from './endpoints';

const section = 'gpt2Heads';

function config(resource?: vscode.Uri): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration(section, resource);
}

/** A setting's value; package.json gives every setting a default, so it is never undefined. */
function get<T>(key: string, resource?: vscode.Uri): T {
  return config(resource).get<T>(key) as T;
}

/**
 * Model paths may name local folders; in an untrusted workspace only the user's own settings
 * count (package.json lists these keys under restrictedConfigurations; VS Code already ignores
 * the workspace values there — reading `globalValue` makes that explicit here too).
 */
export function modelSource(role: HeadRole, resource?: vscode.Uri): string {
  const key = `${role}.model`;
  if (!vscode.workspace.isTrusted) {
    const inspected = config(resource).inspect<string>(key);
    return (inspected?.globalValue ?? inspected?.defaultValue ?? '').trim();
  }
  return get<string>(key, resource).trim();
}

type Resource = vscode.Uri | undefined;

export const settings = {
  offline: (r?: Resource) => get<boolean>('offline', r),
  sharedHost: (r?: Resource) => get<boolean>('sharedHost', r),
  dtype: (r?: Resource) => get<Dtype>('dtype', r),
  threads: (r?: Resource) => get<number>('threads', r),
  cacheDirectory: (r?: Resource) => get<string>('cacheDirectory', r).trim(),
  maxDocumentChars: (r?: Resource) => get<number>('maxDocumentChars', r),
  languages: (r?: Resource) => get<string[]>('languages', r),
  maxNewTokens: (r?: Resource) => get<number>('generation.maxNewTokens', r),
  aggregationStrategy: (r?: Resource) => get<AggregationStrategy>('tagging.aggregationStrategy', r),
  ignoreLabels: (r?: Resource) => get<string[]>('tagging.ignoreLabels', r),
  taggingContext: (r?: Resource) => get<number>('tagging.context', r),
  autoTag: (r?: Resource) => get<boolean>('tagging.auto', r),
  taggingDebounceMs: (r?: Resource) => get<number>('tagging.debounceMs', r),
  showLabels: (r?: Resource) => get<boolean>('tagging.showLabels', r),
  labelColors: (r?: Resource) => get<Record<string, string>>('tagging.colors', r),
  sequenceClassification: (r?: Resource) => get<boolean>('classification.sequence.enabled', r),
  documentClassification: (r?: Resource) => get<boolean>('classification.document.enabled', r),
  /** 'auto' leaves the choice to the model's config (HF's default), sent as unset. */
  functionToApply: (r?: Resource) => {
    const value = get<'auto' | 'softmax' | 'sigmoid' | 'none'>('classification.functionToApply', r);
    return value === 'auto' ? undefined : value;
  },
  classificationAggregation: (r?: Resource) => get<'mean' | 'max'>('classification.aggregation', r),
  classificationDebounceMs: (r?: Resource) => get<number>('classification.debounceMs', r),
  zeroShotLabels: (r?: Resource) =>
    get<string[]>('zeroShot.labels', r).filter((label) => label.trim()),
  zeroShotTemplate: (r?: Resource) => get<string>('zeroShot.template', r),
  qaTopK: (r?: Resource) => get<number>('qa.topK', r),
  qaMaxAnswerLen: (r?: Resource) => get<number>('qa.maxAnswerLen', r),
  /** 0 = HF's default stride, sent as unset. */
  qaDocStride: (r?: Resource) => get<number>('qa.docStride', r) || undefined,
  qaHandleImpossibleAnswer: (r?: Resource) => get<boolean>('qa.handleImpossibleAnswer', r),
  templates: (r?: Resource) => get<Record<string, string>>('generation.templates', r),
  maxSummaryTokens: (r?: Resource) => get<number>('generation.maxSummaryTokens', r),
  inlineEnabled: (r?: Resource) => get<boolean>('inline.enabled', r),
  inlineMaxNewTokens: (r?: Resource) => get<number>('inline.maxNewTokens', r),
  inlineStopAt: (r?: Resource) => get<'line' | 'sentence' | 'none'>('inline.stopAt', r),
  inlineDebounceMs: (r?: Resource) => get<number>('inline.debounceMs', r),
};

/** Hugging Face generate() options from the settings; `overrides` win. */
export function generationOptions(
  overrides: GenerationOptions = {},
  resource?: vscode.Uri,
): GenerationOptions {
  const seed = get<number>('generation.seed', resource);
  return {
    do_sample: get<boolean>('generation.doSample', resource),
    temperature: get<number>('generation.temperature', resource),
    top_k: get<number>('generation.topK', resource),
    top_p: get<number>('generation.topP', resource),
    repetition_penalty: get<number>('generation.repetitionPenalty', resource),
    stop_strings: get<string[]>('generation.stopStrings', resource),
    // 0 = no seed: sampling differs on every run.
    seed: seed > 0 ? seed : undefined,
    max_new_tokens: settings.maxNewTokens(resource),
    ...overrides,
  };
}

/** Whether automatic features run on this document (commands run on any document). */
export function servesLanguage(document: vscode.TextDocument): boolean {
  return settings.languages(document.uri).includes(document.languageId);
}

/** Every settings write of the extension: user settings, since model paths are restricted there. */
export const write = {
  model: (role: HeadRole, source: string) => update(`${role}.model`, source),
  autoTag: (on: boolean) => update('tagging.auto', on),
  inlineEnabled: (on: boolean) => update('inline.enabled', on),
  zeroShotLabels: (labels: string[]) => update('zeroShot.labels', labels),
};

/**
 * Flips an on/off setting (a key of both `settings` and `write`) and says its new state in the
 * status bar for a few seconds; resolves to the new state.
 */
export async function toggle(
  key: 'autoTag' | 'inlineEnabled',
  say: (on: boolean) => string,
): Promise<boolean> {
  const next = !settings[key]();
  await write[key](next);
  void vscode.window.setStatusBarMessage(say(next), 3000);
  return next;
}

async function update(key: string, value: unknown): Promise<void> {
  await config().update(key, value, vscode.ConfigurationTarget.Global);
}

/** Settings whose change makes the host load its models again. */
export const modelReloadKeys = [
  ...headRoles.map((role) => taskTable[role].setting),
  `${section}.dtype`,
  `${section}.threads`,
  `${section}.cacheDirectory`,
  ...endpointSettingKeys,
];

/** Settings the host must hear about: the reloading ones, and offline, which applies live. */
export const hostSettingKeys = [...modelReloadKeys, `${section}.offline`];

export function hostSettings(globalStorage: vscode.Uri): HostSettings {
  return {
    models: modelsFor((role) => modelSource(role)),
    offline: settings.offline(),
    cacheDir: settings.cacheDirectory() || vscode.Uri.joinPath(globalStorage, 'models').fsPath,
    dtype: settings.dtype(),
    threads: settings.threads(),
    endpoints: endpointSettings(),
  };
}
