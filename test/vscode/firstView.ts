// What `npm start` shows a new user first, read from the workbench's DOM: the tabs, the story's
// decorations (tagged spans) and the classification labels in the status bar. Used by the test
// of `npm start` and by the screenshot of it.
import type { Page } from 'playwright-core';

// The page.evaluate bodies run in the browser; the project compiles without the DOM library.
interface BrowserElement {
  textContent: string | null;
  classList: { contains(name: string): boolean };
  querySelectorAll(selector: string): ArrayLike<BrowserElement> & Iterable<BrowserElement>;
}
declare const document: {
  querySelectorAll(selector: string): ArrayLike<BrowserElement> & Iterable<BrowserElement>;
};

export interface FirstView {
  tabs: string[];
  activeTab: string;
  decorations: number;
  labels: string[];
}

export function firstView(page: Page): Promise<FirstView> {
  return page.evaluate(() => {
    const tabs = [...document.querySelectorAll('.tab')];
    return {
      tabs: tabs.map((tab) => (tab.textContent ?? '').trim()),
      activeTab: (tabs.find((tab) => tab.classList.contains('active'))?.textContent ?? '').trim(),
      decorations: [...document.querySelectorAll('.part.editor .editor-instance')]
        .slice(0, 1)
        .flatMap((editor) => [...editor.querySelectorAll('[class*="ced-"]')]).length,
      labels: [...document.querySelectorAll('.statusbar-item')]
        .map((item) => (item.textContent ?? '').trim())
        .filter((text) => /^(POSITIVE|NEGATIVE) \d\.\d\d$/.test(text)),
    };
  });
}

/** Waits until the story is active and tagged, both labels are shown and the walkthrough is open. */
export async function waitForFirstView(
  page: Page,
  loaded: number,
  firstViewMs: number,
): Promise<FirstView> {
  let view: FirstView | undefined;
  while (Date.now() - loaded < firstViewMs) {
    view = await firstView(page);
    if (
      view.activeTab.startsWith('story.txt') &&
      view.decorations > 0 &&
      view.labels.length >= 2 &&
      view.tabs.some((tab) => tab.startsWith('Walkthrough: GPT-2 Heads'))
    ) {
      return view;
    }
    await page.waitForTimeout(250);
  }
  throw new Error(
    `within ${firstViewMs / 1000} s of the page loading, expected story.txt active and tagged, ` +
      `two labels in the status bar and the walkthrough open; saw ${JSON.stringify(view)}`,
  );
}
