// First use of a Hub model: nothing is downloaded because a document was opened. Before the first
// download of a model, the user is told which model, how large it is (from the Hub's file
// listing) and where it goes, and answers once: Download / Choose a Local Folder / Not Now.
// "Download" is remembered per model (globalState); "Not Now" keeps the automatic features
// (status bar classification, automatic tagging, inline suggestions) waiting without asking
// again, and a command that needs the model asks again. Local folders, models already on disk
// and offline mode never ask.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { methods, type HeadRole } from '../protocol';
import { isHubId, looksLikePath } from '../text/modelSources';
import { hostSettings, modelSource, settings } from './settings';

export type ConsentAnswer = 'download' | 'localFolder' | 'notNow';

export interface ConsentQuestion {
  role: HeadRole;
  source: string;
  /** Bytes the download will take, from the Hub's file listing; undefined when unknown. */
  bytes: number | undefined;
  /** The folder the model goes into. */
  target: string;
  message: string;
}

const roleNames: Record<HeadRole, string> = {
  lm: 'the language model',
  ner: 'named entities',
  pos: 'parts of speech',
  classification: 'classification',
  qa: 'question answering',
  multipleChoice: 'multiple choice',
};

const answersKey = 'gpt2Heads.downloadAnswers';

/** Roles a host request needs, by method name (the host loads these models for it). */
function rolesOf(method: string, params: unknown): HeadRole[] {
  const p = (params ?? {}) as { role?: HeadRole; zeroShot?: unknown };
  switch (method) {
    case methods.generate.method:
      return ['lm'];
    case methods.tag.method:
      return p.role ? [p.role] : [];
    case methods.classify.method:
      return p.zeroShot ? ['lm'] : ['classification'];
    case methods.answer.method:
      return ['qa'];
    case methods.choose.method:
      return modelSource('multipleChoice') ? ['multipleChoice'] : ['lm'];
    default:
      return [];
  }
}

function megabytes(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

/** The files a load of this Hub repository downloads, from its listing (see hubCheckpoint.ts). */
export function downloadBytes(
  files: { path: string; size: number }[],
  dtype: string,
): number | undefined {
  const size = new Map(files.map((f) => [f.path, f.size]));
  const small = [
    'config.json',
    'tokenizer.json',
    'tokenizer_config.json',
    'special_tokens_map.json',
    'generation_config.json',
    'vocab.json',
    'merges.txt',
    'added_tokens.json',
  ].reduce((sum, name) => sum + (size.get(name) ?? 0), 0);
  const onnx =
    dtype === 'fp32'
      ? ['onnx/model.onnx']
      : ['onnx/model_quantized.onnx', 'onnx/model.onnx'].filter((f) => size.has(f)).slice(0, 1);
  const candidates = [
    ...onnx.map((f) => [f]),
    ['model.safetensors'],
    files.filter((f) => /^model-\d+-of-\d+\.safetensors$/.test(f.path)).map((f) => f.path),
    ['pytorch_model.bin'],
    files.filter((f) => /^pytorch_model-\d+-of-\d+\.bin$/.test(f.path)).map((f) => f.path),
  ];
  for (const weights of candidates) {
    if (weights.length > 0 && weights.every((f) => size.has(f)))
      return small + weights.reduce((sum, f) => sum + size.get(f)!, 0);
  }
  return undefined;
}

/** The Hub's file listing with sizes (the endpoint HF_ENDPOINT names, as the host uses). */
async function hubFileSizes(hubId: string): Promise<{ path: string; size: number }[] | undefined> {
  const endpoint = (process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/$/, '');
  try {
    const response = await fetch(`${endpoint}/api/models/${hubId}/tree/main?recursive=true`, {
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) return undefined;
    const listing = (await response.json()) as {
      type?: string;
      path?: string;
      size?: number;
      lfs?: { size?: number };
    }[];
    return listing
      .filter((f) => f.type === 'file' && typeof f.path === 'string')
      .map((f) => ({ path: f.path!, size: f.lfs?.size ?? f.size ?? 0 }));
  } catch {
    return undefined;
  }
}

let activeCheck: ((role: HeadRole) => string | undefined) | undefined;

/** Why automatic features must not use the role's model yet (see FirstUse.waiting). */
export function waitingFor(role: HeadRole): string | undefined {
  return activeCheck?.(role);
}

export class FirstUse implements vscode.Disposable {
  /** Asks the user; tests replace it (the extension's API) to answer without a notification. */
  prompt: (question: ConsentQuestion) => Thenable<ConsentAnswer | undefined> = async (question) => {
    const choice = await vscode.window.showInformationMessage(
      question.message,
      'Download',
      'Choose a Local Folder',
      'Not Now',
    );
    if (choice === 'Download') return 'download';
    if (choice === 'Choose a Local Folder') return 'localFolder';
    return choice === 'Not Now' ? 'notNow' : undefined;
  };

  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires when a model becomes ready or is declined (features re-check what waits). */
  readonly onDidChange = this.changed.event;
  private readonly asking = new Map<string, Promise<void>>();

  constructor(private readonly context: vscode.ExtensionContext) {
    activeCheck = (role) => this.waiting(role);
  }

  dispose(): void {
    activeCheck = undefined;
    this.changed.dispose();
  }

  private get cacheDir(): string {
    return hostSettings(this.context.globalStorageUri).cacheDir;
  }

  private answers(): Record<string, ConsentAnswer> {
    return this.context.globalState.get<Record<string, ConsentAnswer>>(answersKey) ?? {};
  }

  private async remember(source: string, answer: ConsentAnswer): Promise<void> {
    await this.context.globalState.update(answersKey, { ...this.answers(), [source]: answer });
    this.changed.fire();
  }

  /** Whether the Hub model is already downloaded (by transformers.js or as a checkpoint). */
  private onDisk(hubId: string): boolean {
    const onnx = join(this.cacheDir, 'hub', ...hubId.split('/'), 'onnx');
    if (existsSync(onnx) && readdirSync(onnx).some((f) => f.endsWith('.onnx'))) return true;
    return existsSync(join(this.cacheDir, 'hub-checkpoints', ...hubId.split('/'), '.complete'));
  }

  /**
   * Why the role's model cannot be used without asking, or undefined when it can (not set, a
   * local folder, offline, already on disk, or the download was agreed).
   */
  waiting(role: HeadRole): string | undefined {
    const source = modelSource(role);
    if (
      !source ||
      looksLikePath(source) ||
      existsSync(source) ||
      !isHubId(source) ||
      settings.offline()
    )
      return undefined;
    if (this.answers()[source] === 'download' || this.onDisk(source)) return undefined;
    return this.answers()[source] === 'notNow'
      ? `${source} is not downloaded: you chose Not Now. A command that needs it asks again.`
      : `${source} is not downloaded yet. Run a command that needs it to be asked about the download.`;
  }

  /** For HostClient: before a request, ask about the models it would download. */
  readonly beforeRequest = async (method: string, params: unknown): Promise<void> => {
    for (const role of rolesOf(method, params)) await this.ensure(role);
  };

  /** Asks once for the role's model if it needs a download; throws CancellationError on "Not Now". */
  async ensure(role: HeadRole): Promise<void> {
    if (!this.waiting(role)) return;
    const source = modelSource(role);
    // Several requests for one model wait for one question.
    let pending = this.asking.get(source);
    if (!pending) {
      pending = this.ask(role, source).finally(() => this.asking.delete(source));
      this.asking.set(source, pending);
    }
    await pending;
    if (this.waiting(role)) throw new vscode.CancellationError();
  }

  private async ask(role: HeadRole, source: string): Promise<void> {
    const files = await hubFileSizes(source);
    const bytes = files ? downloadBytes(files, settings.dtype()) : undefined;
    const target = this.cacheDir;
    const size = bytes === undefined ? 'size unknown' : megabytes(bytes);
    const message = vscode.l10n.t(
      'GPT-2 Heads needs {0} for {1}: {2} from the Hugging Face Hub, stored in {3}. Download it now?',
      source,
      roleNames[role],
      size,
      target,
    );
    const answer = await this.prompt({ role, source, bytes, target, message });
    if (answer === 'download') await this.remember(source, 'download');
    else if (answer === 'localFolder') {
      await vscode.commands.executeCommand('gpt2Heads.chooseModelFolder', role);
      this.changed.fire();
    } else if (answer === 'notNow') await this.remember(source, 'notNow');
  }
}
