// "Train a Head from Labelled Data…": pick the task, the backbone, the data and the output folder;
// the host trains with a cancellable progress notification; the results open as a Markdown
// preview, and the new head can become the NER, POS or classification model in one click.
import * as vscode from 'vscode';
import {
  methods,
  trainProgress,
  type TrainParams,
  type TrainResult,
  type TrainingTask,
} from '../protocol';
import type { FeatureContext } from './context';
import { showError } from './errors';
import { modelSource, settings } from './settings';
import { reportMarkdown } from './trainingReport';
import { withCancellableProgress } from './largeDocument';

type UseRole = 'ner' | 'pos' | 'classification';

/** Everything the pickers ask, so scripts and tests can pass it as the command's argument. */
export interface TrainArguments {
  task?: TrainingTask;
  model?: string;
  train?: string;
  /** A file, or '' for a held-out 10% of the training data. */
  validation?: string;
  out?: string;
  format?: TrainParams['format'];
  labelColumn?: string;
  epochs?: number;
  seed?: number;
  /** Make the new head this role's model without asking; 'none' to leave the settings alone. */
  use?: UseRole | 'none';
  /** Open the results view (default true). */
  showReport?: boolean;
}

const dataFilters = {
  'Labelled data': ['conllu', 'conll', 'iob', 'bio', 'txt', 'jsonl', 'csv', 'tsv'],
  'All files': ['*'],
};

async function pickTask(): Promise<TrainingTask | undefined> {
  const picked = await vscode.window.showQuickPick(
    [
      {
        label: vscode.l10n.t('Token classification'),
        detail: vscode.l10n.t(
          'A label per word: named entities, parts of speech (CoNLL-U, CoNLL-2003, JSON Lines)',
        ),
        task: 'token-classification' as const,
      },
      {
        label: vscode.l10n.t('Text classification'),
        detail: vscode.l10n.t(
          'A label per text: sentiment, topics, your own categories (CSV, TSV, JSON Lines)',
        ),
        task: 'text-classification' as const,
      },
    ],
    { title: vscode.l10n.t('GPT-2 Heads: what should the head predict?') },
  );
  return picked?.task;
}

async function pickBackbone(): Promise<string | undefined> {
  const lm = modelSource('lm');
  const items: (vscode.QuickPickItem & { pick: 'lm' | 'folder' | 'hub' })[] = [
    ...(lm
      ? [
          {
            label: vscode.l10n.t('The configured language model'),
            description: lm,
            pick: 'lm' as const,
          },
        ]
      : []),
    { label: vscode.l10n.t('A GPT-2 model folder…'), pick: 'folder' as const },
    { label: vscode.l10n.t('A Hugging Face Hub id…'), pick: 'hub' as const },
  ];
  const picked = await vscode.window.showQuickPick(items, {
    title: vscode.l10n.t('GPT-2 Heads: which GPT-2 should the head read?'),
  });
  if (!picked) return undefined;
  if (picked.pick === 'lm') return lm;
  if (picked.pick === 'hub') {
    return (
      await vscode.window.showInputBox({
        title: vscode.l10n.t('Hugging Face Hub id of a GPT-2 checkpoint'),
        placeHolder: 'openai-community/gpt2',
        validateInput: (value) =>
          /^[\w.-]+(\/[\w.-]+)?$/.test(value.trim())
            ? undefined
            : vscode.l10n.t('An id like owner/name'),
      })
    )?.trim();
  }
  const [folder] =
    (await vscode.window.showOpenDialog({
      canSelectFolders: true,
      canSelectFiles: false,
      openLabel: vscode.l10n.t('Use as Backbone'),
    })) ?? [];
  return folder?.fsPath;
}

async function pickFile(title: string): Promise<string | undefined> {
  const [file] =
    (await vscode.window.showOpenDialog({
      canSelectFiles: true,
      canSelectFolders: false,
      canSelectMany: false,
      filters: dataFilters,
      title,
      defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
    })) ?? [];
  return file?.fsPath;
}

async function pickValidation(): Promise<string | undefined> {
  const picked = await vscode.window.showQuickPick(
    [
      { label: vscode.l10n.t('Hold out 10% of the training data'), file: false },
      { label: vscode.l10n.t('Choose a validation file…'), file: true },
    ],
    { title: vscode.l10n.t('GPT-2 Heads: what should the head be scored on?') },
  );
  if (!picked) return undefined;
  if (!picked.file) return '';
  return pickFile(vscode.l10n.t('Validation data'));
}

async function pickOutput(task: TrainingTask): Promise<string | undefined> {
  const base = vscode.workspace.workspaceFolders?.[0]?.uri;
  const uri = await vscode.window.showSaveDialog({
    title: vscode.l10n.t('GPT-2 Heads: a new folder for the trained model'),
    saveLabel: vscode.l10n.t('Save Model Here'),
    defaultUri:
      base && vscode.Uri.joinPath(base, task === 'token-classification' ? 'tagger' : 'classifier'),
  });
  return uri?.fsPath;
}

async function offerUse(
  result: TrainResult,
  task: TrainingTask,
  use: TrainArguments['use'],
): Promise<UseRole | undefined> {
  const choices: Record<string, UseRole> =
    task === 'token-classification'
      ? {
          [vscode.l10n.t('Use for Named Entities')]: 'ner',
          [vscode.l10n.t('Use for Parts of Speech')]: 'pos',
        }
      : { [vscode.l10n.t('Use for Classification')]: 'classification' };
  let role: UseRole | undefined = use === 'none' ? undefined : use;
  if (use === undefined) {
    const accuracy = (100 * result.report.validation.accuracy).toFixed(1);
    const baseline = (100 * result.report.baseline.validation.accuracy).toFixed(1);
    const picked = await vscode.window.showInformationMessage(
      vscode.l10n.t(
        'GPT-2 Heads: trained. Validation accuracy {0}% (majority label {1}%). Use the new head?',
        accuracy,
        baseline,
      ),
      ...Object.keys(choices),
    );
    role = picked ? choices[picked] : undefined;
  }
  if (!role) return undefined;
  const config = vscode.workspace.getConfiguration('gpt2Heads');
  // Model settings are read from the user settings in untrusted workspaces: write them there.
  await config.update(`${role}.model`, result.folder, vscode.ConfigurationTarget.Global);
  // The head learnt each word's label at its first token; the other tokens' labels mean
  // nothing, so words must be read as aggregation_strategy "first" reads them.
  if (role !== 'classification' && settings.aggregationStrategy() !== 'first') {
    await config.update('tagging.aggregationStrategy', 'first', vscode.ConfigurationTarget.Global);
    void vscode.window.showInformationMessage(
      vscode.l10n.t(
        'GPT-2 Heads: the new head now tags {0}. Tagging reads each word at its first token ("gpt2Heads.tagging.aggregationStrategy": "first"), as the head was trained.',
        role === 'ner' ? 'named entities' : 'parts of speech',
      ),
    );
  }
  return role;
}

/** The results view: the report as Markdown beside the model, opened in the preview. */
async function showReport(result: TrainResult, log: vscode.LogOutputChannel): Promise<void> {
  const uri = vscode.Uri.joinPath(vscode.Uri.file(result.folder), 'training_report.md');
  try {
    await vscode.workspace.fs.writeFile(
      uri,
      new TextEncoder().encode(reportMarkdown(result.report, result.folder)),
    );
    await vscode.commands.executeCommand('markdown.showPreview', uri);
  } catch (error) {
    // The model is saved either way; training_report.json holds the same figures.
    log.warn(`The training report could not be shown: ${(error as Error).message}`);
  }
}

export async function trainHeadCommand(
  ctx: FeatureContext,
  args: TrainArguments = {},
): Promise<TrainResult | undefined> {
  const task = args.task ?? (await pickTask());
  if (!task) return undefined;
  const model = args.model ?? (await pickBackbone());
  if (!model) return undefined;
  const train = args.train ?? (await pickFile(vscode.l10n.t('Training data')));
  if (!train) return undefined;
  const validation = args.validation ?? (await pickValidation());
  if (validation === undefined) return undefined;
  const out = args.out ?? (await pickOutput(task));
  if (!out) return undefined;
  const params: TrainParams = {
    task,
    model,
    train,
    validation: validation || undefined,
    out,
    format: args.format,
    labelColumn: args.labelColumn,
    epochs: args.epochs,
    seed: args.seed,
  };
  let result: TrainResult;
  try {
    result = await withCancellableProgress(
      vscode.l10n.t('GPT-2 Heads: training a head'),
      (progress, token) => {
        let shown = 0;
        return ctx.host.requestWithPartials(
          methods.train,
          trainProgress,
          params,
          (update) => {
            // The bar follows the current phase; it restarts when a new phase begins.
            const percent = update.percent ?? shown;
            if (percent < shown) shown = 0;
            progress.report({ message: update.message, increment: percent - shown });
            shown = percent;
          },
          token,
        );
      },
    );
  } catch (error) {
    showError(error, ctx.log);
    return undefined;
  }
  ctx.log.info(`Trained ${result.report.architecture} in ${result.folder}`);
  if (args.showReport !== false) await showReport(result, ctx.log);
  await offerUse(result, task, args.use);
  return result;
}
