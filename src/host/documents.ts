// The documents one client synchronised with the host (LSP didOpen / incremental didChange /
// didClose), so that its tag and classify requests name a document instead of carrying its text.
// Each client session has its own: a shared host serves several windows.
import { TextDocument } from 'vscode-languageserver-textdocument';
import {
  TextDocuments,
  type CancellationToken,
  type Connection,
  type Disposable,
} from 'vscode-languageserver';
import { errorCodes, type TextOrDocument } from '../protocol';
import { CancelledError, HostError } from './errors';

/** How long a request naming a newer version than the host has waits for its didChange. */
const catchUpMs = 2000;

export class SessionDocuments {
  private readonly documents = new TextDocuments(TextDocument);
  private readonly listening: Disposable;

  constructor(connection: Connection) {
    this.listening = this.documents.listen(connection);
  }

  /**
   * The text a request reads: its own, or its document's at the version it names. A version the
   * host has not reached yet is waited for briefly (its didChange may still be on the way); once
   * the host has a newer one the request fails with `contentModified`, since its answer would be
   * for text that is gone (the client asks again for the new version).
   */
  async textOf(params: TextOrDocument, token: CancellationToken): Promise<string> {
    if (params.textDocument === undefined) return params.text;
    const { uri, version } = params.textDocument;
    const document = await this.atLeast(uri, version, token);
    if (!document) {
      throw new HostError(
        `The host does not have version ${version} of ${uri}: the client must open the document ` +
          '(textDocument/didOpen) and send its changes before naming it in a request.',
        errorCodes.documentNotSynced,
      );
    }
    if (document.version !== version) {
      throw new HostError(
        `The document changed (version ${document.version}) after the request was made ` +
          `(version ${version}).`,
        errorCodes.contentModified,
      );
    }
    return document.getText();
  }

  dispose(): void {
    this.listening.dispose();
  }

  /** The document once it reaches `version`, or as it is after `catchUpMs` (undefined: not open). */
  private atLeast(
    uri: string,
    version: number,
    token: CancellationToken,
  ): Promise<TextDocument | undefined> {
    const reached = () => {
      const document = this.documents.get(uri);
      return document !== undefined && document.version >= version;
    };
    if (reached()) return Promise.resolve(this.documents.get(uri));
    return new Promise((resolve, reject) => {
      const finish = () => {
        clearTimeout(timer);
        changes.dispose();
        cancelled.dispose();
        if (token.isCancellationRequested) reject(new CancelledError());
        else resolve(this.documents.get(uri));
      };
      const timer = setTimeout(finish, catchUpMs);
      const changes = this.documents.onDidChangeContent(() => {
        if (reached()) finish();
      });
      const cancelled = token.onCancellationRequested(finish);
    });
  }
}
