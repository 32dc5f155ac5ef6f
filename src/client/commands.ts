import * as vscode from 'vscode';
import type { Context } from './context';
import { continueText } from './continueText';
import { showModelStatus } from './modelStatus';

type Command = (ctx: Context, ...args: unknown[]) => unknown;

/** Every command of the extension; titles and the "GPT-2 Heads" category are in package.json. */
const commands: Record<string, Command> = {
  'gpt2Heads.continueText': (ctx) => continueText(ctx),
  'gpt2Heads.showModelStatus': (ctx) => showModelStatus(ctx),
  'gpt2Heads.restartHost': async (ctx) => {
    await ctx.host.restart();
    void vscode.window.setStatusBarMessage('GPT-2 Heads: model host restarted', 3000);
  },
  'gpt2Heads.showLog': (ctx) => ctx.log.show(),
};

export function registerCommands(ctx: Context): vscode.Disposable[] {
  return Object.entries(commands).map(([id, command]) =>
    vscode.commands.registerCommand(id, (...args: unknown[]) => command(ctx, ...args)),
  );
}
