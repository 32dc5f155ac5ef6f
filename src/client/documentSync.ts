import * as vscode from 'vscode';
import {
  DidChangeTextDocumentNotification,
  DidCloseTextDocumentNotification,
  DidOpenTextDocumentNotification,
  State,
  type LanguageClient,
} from 'vscode-languageclient/node';
import type { VersionedTextDocumentIdentifier } from 'vscode-languageserver-protocol';
import { settings } from './settings';

/**
 * LSP text synchronisation with the model host, for the documents the extension works on only
 * (not every open file): a document is opened on the host by the first request that names it, and
 * from then on its edits travel as incremental changes, until it is closed. A document that grows
 * past "gpt2Heads.maxDocumentChars" is closed on the host: it travels again only with a request
 * the user agreed to. One per language client: a new host knows no documents.
 */
export class DocumentSync implements vscode.Disposable {
  /** The version and length the host has of each synchronised document, by URI. */
  private readonly synced = new Map<string, { version: number; length: number }>();
  /** Notifications in the order they were made; a request goes after all of them. */
  private sent: Promise<void> = Promise.resolve();
  private readonly disposables: vscode.Disposable[];

  constructor(private readonly client: LanguageClient) {
    this.disposables = [
      vscode.workspace.onDidChangeTextDocument((event) => this.onChange(event)),
      vscode.workspace.onDidCloseTextDocument((document) => this.close(document.uri.toString())),
      // The host lost its documents with its process (a crash, or the shared host restarted).
      client.onDidChangeState((event) => {
        if (event.newState !== State.Running) this.synced.clear();
      }),
    ];
  }

  /**
   * Makes sure the host has the document named by a request's `textDocument`, as it is now; fails
   * with a CancellationError when the document changed since the request was made.
   */
  async prepare(textDocument: VersionedTextDocumentIdentifier): Promise<void> {
    const document = vscode.workspace.textDocuments.find(
      (candidate) => candidate.uri.toString() === textDocument.uri,
    );
    if (!document || document.isClosed || document.version !== textDocument.version) {
      throw new vscode.CancellationError();
    }
    const version = this.synced.get(textDocument.uri)?.version;
    const text = document.getText();
    if (version === undefined) {
      this.send(DidOpenTextDocumentNotification.method, {
        textDocument: {
          uri: textDocument.uri,
          languageId: document.languageId,
          version: document.version,
          text,
        },
      });
    } else if (version < document.version) {
      // Asked from a change listener that ran before ours: the whole text, once.
      this.send(DidChangeTextDocumentNotification.method, {
        textDocument: { uri: textDocument.uri, version: document.version },
        contentChanges: [{ text }],
      });
    }
    this.synced.set(textDocument.uri, { version: document.version, length: text.length });
    await this.sent;
  }

  dispose(): void {
    for (const disposable of this.disposables) disposable.dispose();
    this.synced.clear();
  }

  private onChange(event: vscode.TextDocumentChangeEvent): void {
    const uri = event.document.uri.toString();
    const synced = this.synced.get(uri);
    if (!synced || event.contentChanges.length === 0) return;
    if (event.document.version <= synced.version) return;
    let length = synced.length;
    for (const change of event.contentChanges) length += change.text.length - change.rangeLength;
    if (length > settings.maxDocumentChars(event.document.uri)) {
      this.close(uri);
      return;
    }
    this.synced.set(uri, { version: event.document.version, length });
    this.send(DidChangeTextDocumentNotification.method, {
      textDocument: { uri, version: event.document.version },
      contentChanges: event.contentChanges.map(({ range, rangeLength, text }) => ({
        range: {
          start: { line: range.start.line, character: range.start.character },
          end: { line: range.end.line, character: range.end.character },
        },
        rangeLength,
        text,
      })),
    });
  }

  private close(uri: string): void {
    if (!this.synced.delete(uri)) return;
    this.send(DidCloseTextDocumentNotification.method, { textDocument: { uri } });
  }

  private send(method: string, params: object): void {
    const client = this.client;
    this.sent = this.sent
      .then(() => (client.isRunning() ? client.sendNotification(method, params) : undefined))
      .catch(() => undefined);
  }
}
