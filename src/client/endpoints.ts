// Serving engines from the editor: the endpoint settings the host receives, the API key kept in
// SecretStorage (never in settings or logs), and a one-time warning for plain HTTP to another
// machine.
import * as vscode from 'vscode';
import { headRoles, type EndpointSettings, type HeadRole } from '../protocol';
import { plainHttpWarning } from '../text/endpointUrls';

const section = 'gpt2Heads';
const secretKey = 'gpt2Heads.endpointApiKey';

/** Read at activation and on every change, so that the host can be started without awaiting. */
let apiKey: string | undefined;

/** The host's environment: the key goes there, never into a (possibly traced) LSP message. */
export function endpointKeyEnvironment(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  if (apiKey) env.GPT2_HEADS_API_KEY = apiKey;
  else delete env.GPT2_HEADS_API_KEY;
  return env;
}

export const endpointSettingKeys = [
  ...headRoles.map((role) => `${section}.${role}.endpoint`),
  `${section}.lm.endpointModel`,
  `${section}.endpoints.timeoutSeconds`,
  `${section}.endpoints.concurrency`,
  `${section}.endpoints.maxBatch`,
];

/** An endpoint sends documents elsewhere: in an untrusted workspace only user settings count. */
function endpointUrl(role: HeadRole): string {
  const config = vscode.workspace.getConfiguration(section);
  const key = `${role}.endpoint`;
  if (!vscode.workspace.isTrusted) return (config.inspect<string>(key)?.globalValue ?? '').trim();
  return (config.get<string>(key) ?? '').trim();
}

/** What the host needs to run graphs remotely; undefined when no endpoint is set. */
export function endpointSettings(): EndpointSettings | undefined {
  const urls: Partial<Record<HeadRole, string>> = {};
  for (const role of headRoles) {
    const url = endpointUrl(role);
    if (url) urls[role] = url;
  }
  if (Object.keys(urls).length === 0) return undefined;
  for (const url of Object.values(urls)) {
    let warning: string | undefined;
    try {
      warning = plainHttpWarning(url);
    } catch {
      // Not a URL: the host says so when the endpoint is first used.
    }
    if (warning) void vscode.window.showWarningMessage(`GPT-2 Heads: ${warning}`);
  }
  const config = vscode.workspace.getConfiguration(section);
  return {
    urls,
    lmModel: (config.get<string>('lm.endpointModel') ?? '').trim() || undefined,
    timeoutMs: (config.get<number>('endpoints.timeoutSeconds') ?? 30) * 1000,
    concurrency: config.get<number>('endpoints.concurrency') ?? 4,
    maxBatch: config.get<number>('endpoints.maxBatch') ?? 8,
  };
}

/** Loads the stored key and keeps it current; `onChange` restarts a running host with it. */
export function registerEndpointKey(
  context: vscode.ExtensionContext,
  onChange: () => void,
): vscode.Disposable[] {
  const load = async () => {
    apiKey = (await context.secrets.get(secretKey)) || undefined;
  };
  // A host started before the key was read gets it now.
  void load().then(() => apiKey && onChange());
  return [
    context.secrets.onDidChange(async (event) => {
      if (event.key !== secretKey) return;
      await load();
      onChange();
    }),
  ];
}

/** "Set Endpoint API Key…": stores the bearer token for every endpoint; empty removes it. */
export async function setEndpointApiKey(context: vscode.ExtensionContext): Promise<void> {
  const value = await vscode.window.showInputBox({
    title: vscode.l10n.t('GPT-2 Heads: Endpoint API Key'),
    prompt: vscode.l10n.t(
      'Sent as "Authorization: Bearer …" to the serving endpoints. Stored in VS Code\'s secret storage, never in settings. Leave empty to remove the key.',
    ),
    password: true,
    ignoreFocusOut: true,
  });
  if (value === undefined) return;
  if (value.trim() === '') await context.secrets.delete(secretKey);
  else await context.secrets.store(secretKey, value.trim());
  void vscode.window.setStatusBarMessage(
    value.trim()
      ? vscode.l10n.t('GPT-2 Heads: endpoint API key stored')
      : vscode.l10n.t('GPT-2 Heads: endpoint API key removed'),
    3000,
  );
}
