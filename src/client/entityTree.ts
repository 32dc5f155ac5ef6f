import * as vscode from 'vscode';
import { describeLabel, type DocumentSpan, type Tagger } from './tagging';

type Node =
  { kind: 'label'; label: string; spans: DocumentSpan[] } | { kind: 'span'; span: DocumentSpan };

/** The entities of the active document in the Explorer, grouped by label; a click reveals one. */
export class EntityTree implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly disposables: vscode.Disposable[];

  constructor(private readonly tagger: Tagger) {
    this.disposables = [
      this.changed,
      tagger.onDidChangeTags((uri) => {
        this.changed.fire(undefined);
        // The view appears once a document has entities.
        if (tagger.spans(uri, 'ner').length > 0) {
          void vscode.commands.executeCommand('setContext', 'gpt2Heads.hasEntities', true);
        }
      }),
      vscode.window.onDidChangeActiveTextEditor(() => this.changed.fire(undefined)),
      vscode.window.registerTreeDataProvider('gpt2Heads.entities', this),
    ];
  }

  getChildren(node?: Node): Node[] {
    const document = vscode.window.activeTextEditor?.document;
    if (!document) return [];
    if (!node) {
      const spans = this.tagger.spans(document.uri, 'ner');
      const labels = [...new Set(spans.map((span) => span.label))].sort();
      return labels.map((label) => ({
        kind: 'label',
        label,
        spans: spans.filter((s) => s.label === label),
      }));
    }
    return node.kind === 'label' ? node.spans.map((span) => ({ kind: 'span', span })) : [];
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if (node.kind === 'label') {
      const item = new vscode.TreeItem(
        describeLabel(node.label),
        vscode.TreeItemCollapsibleState.Expanded,
      );
      item.description = String(node.spans.length);
      item.iconPath = new vscode.ThemeIcon('symbol-constant');
      return item;
    }
    const document = vscode.window.activeTextEditor?.document;
    const text = document?.getText(node.span.range).trim() || node.span.word.trim();
    const item = new vscode.TreeItem(text, vscode.TreeItemCollapsibleState.None);
    item.description = `line ${node.span.range.start.line + 1} · ${node.span.score.toFixed(2)}`;
    item.command = document && {
      command: 'gpt2Heads.revealSpan',
      title: vscode.l10n.t('Reveal'),
      arguments: [document.uri, node.span.start, node.span.end],
    };
    return item;
  }

  dispose(): void {
    for (const disposable of this.disposables) disposable.dispose();
  }
}
