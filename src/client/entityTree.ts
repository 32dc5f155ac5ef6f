import * as vscode from 'vscode';
import { selectAndReveal, targetEditor, visibleEditorOf } from './editors';
import { describeLabel } from './tagDecorations';
import type { DocumentSpan, Tagger } from './tagging';
import { groupByLabel, groupByText, pageOf, type TextGroup } from '../text/spanGroups';

/** Children shown at once under a label or a text; the rest sit behind an "N more…" item. */
const pageSize = 100;
/** Tags change on every keystroke (spans move); the view follows a moment later. */
const refreshDelayMs = 300;

type Node =
  | { kind: 'label'; id: string; label: string; count: number }
  | { kind: 'text'; id: string; group: TextGroup<DocumentSpan> }
  | { kind: 'span'; id: string; span: DocumentSpan; text: string }
  | { kind: 'more'; id: string; owner: Node; offset: number; rest: number };

/** The entities of one document as the view last read them; groups are made when first shown. */
interface Snapshot {
  document: vscode.TextDocument;
  text: string;
  labels: Map<string, DocumentSpan[]>;
  groups: Map<string, TextGroup<DocumentSpan>[]>;
}

/**
 * The entities of the active document in the Explorer: by label, then by text ("London" × 12),
 * a page at a time. Every item has a stable id (without one, VS Code makes up ids for each item
 * it gets, which froze the extension host on documents with 100,000 entities), children are
 * made only when their parent is expanded, and the view refreshes only while it is visible,
 * a moment after the tags stop changing.
 */
export class EntityTree implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly view: vscode.TreeView<Node>;
  private readonly disposables: vscode.Disposable[];
  private snapshot: Snapshot | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stale = false;
  private hasEntities = false;

  constructor(private readonly tagger: Tagger) {
    this.view = vscode.window.createTreeView('gpt2Heads.entities', {
      treeDataProvider: this,
      showCollapseAll: true,
    });
    this.disposables = [
      this.changed,
      this.view,
      tagger.onDidChangeTags(() => this.scheduleRefresh()),
      vscode.window.onDidChangeActiveTextEditor(() => this.scheduleRefresh()),
      this.view.onDidChangeVisibility(({ visible }) => {
        if (visible && this.stale) this.refresh();
      }),
    ];
  }

  getChildren(node?: Node): Node[] {
    const snapshot = this.current();
    if (!snapshot) return [];
    if (!node) {
      return [...snapshot.labels].map(([label, spans]) => ({
        kind: 'label',
        id: `label\u0001${label}`,
        label,
        count: spans.length,
      }));
    }
    switch (node.kind) {
      case 'label':
      case 'text':
        return this.page(snapshot, node, 0);
      case 'more':
        return this.page(snapshot, node.owner, node.offset);
      case 'span':
        return [];
    }
  }

  getTreeItem(node: Node): vscode.TreeItem {
    const collapsed = vscode.TreeItemCollapsibleState.Collapsed;
    let item: vscode.TreeItem;
    switch (node.kind) {
      case 'label':
        item = new vscode.TreeItem(
          describeLabel(node.label),
          vscode.TreeItemCollapsibleState.Expanded,
        );
        item.description = node.count.toLocaleString();
        item.iconPath = new vscode.ThemeIcon('symbol-constant');
        break;
      case 'text':
        item = new vscode.TreeItem(node.group.text, collapsed);
        item.description = vscode.l10n.t('{0} times', node.group.spans.length.toLocaleString());
        break;
      case 'more':
        item = new vscode.TreeItem(
          vscode.l10n.t('{0} more…', node.rest.toLocaleString()),
          collapsed,
        );
        break;
      case 'span': {
        const { span } = node;
        item = new vscode.TreeItem(node.text, vscode.TreeItemCollapsibleState.None);
        item.description = `line ${span.range.start.line + 1} · ${span.score.toFixed(2)}`;
        item.command = {
          command: 'gpt2Heads.revealSpan',
          title: vscode.l10n.t('Reveal'),
          arguments: [this.snapshot?.document.uri, span.start, span.end],
        };
        break;
      }
    }
    item.id = node.id;
    return item;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const disposable of this.disposables) disposable.dispose();
  }

  private scheduleRefresh(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refresh();
    }, refreshDelayMs);
  }

  private refresh(): void {
    // The view appears (it has a "when" clause) once a document has entities.
    const document = vscode.window.activeTextEditor?.document;
    if (!this.hasEntities && document && this.tagger.spans(document.uri, 'ner').length > 0) {
      this.hasEntities = true;
      void vscode.commands.executeCommand('setContext', 'gpt2Heads.hasEntities', true);
    }
    this.snapshot = undefined;
    this.stale = !this.view.visible;
    if (!this.stale) this.changed.fire(undefined);
  }

  private current(): Snapshot | undefined {
    const document = vscode.window.activeTextEditor?.document ?? this.snapshot?.document;
    if (!document) return undefined;
    if (this.snapshot?.document !== document) {
      this.snapshot = {
        document,
        text: document.getText(),
        labels: groupByLabel(this.tagger.spans(document.uri, 'ner')),
        groups: new Map(),
      };
    }
    return this.snapshot;
  }

  /** A page of a label's texts or of a text's occurrences, then "N more…" when there are more. */
  private page(snapshot: Snapshot, owner: Node, offset: number): Node[] {
    if (owner.kind === 'label') {
      let groups = snapshot.groups.get(owner.label);
      if (!groups) {
        groups = groupByText(snapshot.text, snapshot.labels.get(owner.label) ?? []);
        snapshot.groups.set(owner.label, groups);
      }
      const { items, rest } = pageOf(groups, offset, pageSize);
      const nodes: Node[] = items.map((group) =>
        group.spans.length === 1
          ? spanNode(owner.id, group.spans[0], group.text)
          : { kind: 'text', id: `${owner.id}\u0001text\u0001${group.text}`, group },
      );
      return withMore(nodes, owner, offset, rest);
    }
    if (owner.kind === 'text') {
      const { items, rest } = pageOf(owner.group.spans, offset, pageSize);
      const nodes = items.map((span) => spanNode(owner.id, span, owner.group.text));
      return withMore(nodes, owner, offset, rest);
    }
    return [];
  }
}

function spanNode(ownerId: string, span: DocumentSpan, text: string): Node {
  return { kind: 'span', id: `${ownerId}\u0001${span.start}-${span.end}`, span, text };
}

function withMore(nodes: Node[], owner: Node, offset: number, rest: number): Node[] {
  if (rest === 0) return nodes;
  const next = offset + nodes.length;
  return [
    ...nodes,
    { kind: 'more', id: `${owner.id}\u0001more\u0001${next}`, owner, offset: next, rest },
  ];
}

/** "Go to Entity…": every tagged entity of the document, grouped by label. */
export async function goToEntity(tagger: Tagger): Promise<void> {
  const editor = targetEditor();
  if (!editor) return;
  const spans = tagger.spans(editor.document.uri, 'ner');
  if (spans.length === 0) {
    void vscode.window.showInformationMessage(
      vscode.l10n.t(
        'GPT-2 Heads: no entities in this document yet. Run "GPT-2 Heads: Tag Entities (NER)" first.',
      ),
    );
    return;
  }
  type Item = vscode.QuickPickItem & { span?: DocumentSpan };
  const items: Item[] = [];
  for (const [label, spansOfLabel] of groupByLabel(spans)) {
    items.push({ label: describeLabel(label), kind: vscode.QuickPickItemKind.Separator });
    for (const span of spansOfLabel) {
      items.push({
        label: editor.document.getText(span.range) || span.word,
        description: `line ${span.range.start.line + 1} · ${span.score.toFixed(2)}`,
        span,
      });
    }
  }
  const picked = await vscode.window.showQuickPick(items, {
    title: vscode.l10n.t('GPT-2 Heads: Go to Entity'),
    placeHolder: vscode.l10n.t('Type to filter entities'),
    matchOnDescription: true,
  });
  // The quick pick took time: the editor may have gone, the document stays.
  if (picked?.span) await revealSpan(editor.document.uri, picked.span.start, picked.span.end);
}

/** Shows a document and selects [start, end) in it (the Entities view's items, Go to Entity). */
export async function revealSpan(uri: vscode.Uri, start: number, end: number): Promise<void> {
  const document = await vscode.workspace.openTextDocument(uri);
  // In the editor that shows it already, wherever it is.
  const editor = await vscode.window.showTextDocument(
    document,
    visibleEditorOf(document)?.viewColumn,
  );
  selectAndReveal(editor, new vscode.Range(document.positionAt(start), document.positionAt(end)));
}
