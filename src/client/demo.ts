import * as vscode from 'vscode';

/** Set by `npm start` (scripts/start.ts) on the code-server it starts; absent everywhere else. */
const demoVariable = 'GPT2_HEADS_DEMO';
const shownKey = 'gpt2Heads.demo.walkthroughShown';

/**
 * In the `npm start` demo, the first activation of its fresh profile opens the walkthrough beside
 * the sample story (in place of the Explorer) (an extension linked into a profile is not "installed", so VS Code's own
 * open-on-install never fires there), then gives the story the focus back so that its
 * classification labels stay in the status bar.
 */
export async function openDemoWalkthrough(context: vscode.ExtensionContext): Promise<void> {
  if (process.env[demoVariable] !== '1' || context.globalState.get<boolean>(shownKey)) return;
  await context.globalState.update(shownKey, true);
  const story = vscode.window.activeTextEditor;
  // The story and the walkthrough get the width; the Explorer is one click away.
  await vscode.commands.executeCommand('workbench.action.closeSidebar');
  await vscode.commands.executeCommand(
    'workbench.action.openWalkthrough',
    `${context.extension.id}#gettingStarted`,
    true,
  );
  if (story) {
    await vscode.window.showTextDocument(story.document, {
      viewColumn: story.viewColumn,
      preserveFocus: false,
    });
  }
}
