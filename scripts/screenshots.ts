// `npm run screenshots`: the README's pictures, taken from a real VS Code (code-server in
// headless Chromium) running this repository's extension: first what `npm start` opens (the demo
// models), then each feature on the fixture models in ../shared/fixtures. All their weights are
// random: labels, answers and scores mean nothing.
//
//   npm run screenshots                      media/screenshots/*.png
//   node out/scripts/screenshots.js --icon   also renders media/icon.svg to media/icon.png
import { readFileSync, statSync, mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import {
  freePort,
  launchBrowser,
  prepareProfile,
  repoRoot,
  startCodeServer,
  testModels,
  userSettings,
  workbenchUrl,
  type CodeServer,
  type Workbench,
} from '../test/vscode/harness';
import { waitForFirstView } from '../test/vscode/firstView';
import { linkExtension, startDemoServer, type DemoServer } from './demo';

// The page.evaluate bodies run in the browser; the project compiles without the DOM library.
interface BrowserElement {
  getBoundingClientRect(): { x: number; y: number; width: number; height: number; bottom: number };
}
declare const document: {
  querySelector(selector: string): BrowserElement | null;
  querySelectorAll(selector: string): ArrayLike<BrowserElement> & Iterable<BrowserElement>;
};

const screenshotsDir = join(repoRoot, 'media', 'screenshots');
const maxBytes = 150 * 1024;
// The first view shows the whole workbench, not a clip of the editor.
const maxBytesWholeWorkbench = 200 * 1024;

// A plain, narrow editor: the pictures show the text and what the heads put on it.
const lookSettings = {
  'workbench.colorTheme': 'Default Dark Modern',
  'editor.minimap.enabled': false,
  'editor.fontSize': 14,
  // Labels are drawn after the spans without taking part in wrapping: leave them room.
  'editor.wordWrap': 'wordWrapColumn',
  'editor.wordWrapColumn': 64,
  'editor.renderLineHighlight': 'none',
  'editor.stickyScroll.enabled': false,
  'breadcrumbs.enabled': false,
  'window.commandCenter': false,
  'workbench.layoutControl.enabled': false,
  'workbench.editor.showTabs': 'single',
  'gpt2Heads.tagging.auto': false,
  'gpt2Heads.inline.enabled': false,
  'gpt2Heads.inline.stopAt': 'none',
  'gpt2Heads.inline.maxNewTokens': 8,
  // Whole words: random weights split words between labels with "simple".
  'gpt2Heads.tagging.aggregationStrategy': 'first',
  // The test LM's random weights put every token near 16 bits: steps over its range.
  'gpt2Heads.surprisal.colorSteps': [15, 16, 17, 18, 19],
  'gpt2Heads.surprisal.threshold': 19,
};

async function renderIcon(): Promise<void> {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 128, height: 128 } });
    const svg = readFileSync(join(repoRoot, 'media', 'icon.svg'), 'utf8');
    await page.setContent(`<body style="margin:0">${svg}</body>`);
    const path = join(repoRoot, 'media', 'icon.png');
    await page.locator('svg').screenshot({ path, omitBackground: true });
    console.log(`[screenshots] ${relative(repoRoot, path)}`);
  } finally {
    await browser.close();
  }
}

/** Runs a command by its palette title, as a user would. */
async function runCommand(page: Page, title: string): Promise<void> {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible' });
  await input.fill(`>${title}`);
  await page
    .locator('.quick-input-list .monaco-list-row', { hasText: title })
    .first()
    .waitFor({ state: 'visible' });
  await page.keyboard.press('Enter');
}

async function openFile(page: Page, name: string): Promise<void> {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible' });
  await input.fill(name);
  await page
    .locator('.quick-input-list .monaco-list-row', { hasText: name })
    .first()
    .waitFor({ state: 'visible' });
  await page.keyboard.press('Enter');
  await page.locator('.part.editor .view-lines').first().waitFor({ state: 'visible' });
}

function decorationCount(page: Page): Promise<number> {
  return page.evaluate(() => document.querySelectorAll('.part.editor [class*="ced-"]').length);
}

async function waitForMoreDecorations(page: Page, than: number): Promise<void> {
  await page.waitForFunction(
    (count) => document.querySelectorAll('.part.editor [class*="ced-"]').length > count,
    than,
    { timeout: 60_000 },
  );
  // Decorations of one command arrive together; give the renderer a frame to settle.
  await page.waitForTimeout(300);
}

/** Waits for progress notifications to finish, then clears what is left. */
async function clearNotifications(page: Page): Promise<void> {
  await page
    .waitForFunction(
      () => !document.querySelector('.notification-toast .monaco-progress-container.active'),
      undefined,
      {
        timeout: 30_000,
      },
    )
    .catch(() => undefined);
  if ((await page.locator('.notification-toast').count()) > 0)
    await runCommand(page, 'Notifications: Clear All Notifications');
  await page.locator('.notification-toast').first().waitFor({ state: 'detached', timeout: 10_000 });
}

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The editor from its top to just below the last line of text. */
async function editorTextBox(page: Page): Promise<Box> {
  return page.evaluate(() => {
    const editor = document.querySelector('.part.editor')!.getBoundingClientRect();
    const lines = [...document.querySelectorAll('.part.editor .view-line')];
    const bottom = Math.max(...lines.map((line) => line.getBoundingClientRect().bottom));
    return {
      x: editor.x,
      y: editor.y,
      width: editor.width,
      height: Math.min(editor.height, bottom - editor.y + 16),
    };
  });
}

async function save(page: Page, name: string, clip: Box, limit = maxBytes): Promise<void> {
  const path = join(screenshotsDir, `${name}.png`);
  await page.screenshot({ path, clip });
  const bytes = statSync(path).size;
  console.log(`[screenshots] ${relative(repoRoot, path)} (${Math.round(bytes / 1024)} KB)`);
  if (bytes > limit) throw new Error(`${name}.png is over ${limit / 1024} KB`);
}

/** Saves the editor's text area down to and across the status bar, whose labels are the point. */
async function saveEditorWithStatusBar(page: Page, name: string): Promise<void> {
  const bar = (await page.locator('.part.statusbar').boundingBox())!;
  const text = await editorTextBox(page);
  await save(page, name, {
    x: text.x,
    y: text.y,
    width: bar.width - text.x,
    height: bar.y + bar.height - text.y,
  });
}

async function takeScreenshots(page: Page): Promise<void> {
  await page.locator('.statusbar').waitFor({ state: 'visible', timeout: 60_000 });
  await runCommand(page, 'View: Close Primary Side Bar');
  await openFile(page, 'story.txt');

  await runCommand(page, 'GPT-2 Heads: Tag Entities (NER)');
  await waitForMoreDecorations(page, 0);
  const entities = await decorationCount(page);
  await runCommand(page, 'GPT-2 Heads: Tag Parts of Speech');
  await waitForMoreDecorations(page, entities);
  await clearNotifications(page);
  await page.mouse.move(0, 0);
  await save(page, 'tags', await editorTextBox(page));

  // Hover the first entity: its decoration sits under the text, at the span's position.
  const span = await page
    .locator('.part.editor .view-overlays [class*="ced-"]')
    .first()
    .boundingBox();
  if (!span) throw new Error('no decorated span to hover');
  await page.mouse.move(span.x + Math.min(span.width / 2, 20), span.y + span.height / 2);
  const hover = page.locator('.monaco-hover:not(.hidden)', { hasText: 'score' }).first();
  await hover.waitFor({ state: 'visible', timeout: 10_000 });
  await page.waitForTimeout(300);
  const hoverBox = (await hover.boundingBox())!;
  const left = Math.max(0, Math.min(span.x, hoverBox.x) - 24);
  const top = Math.max(0, Math.min(span.y, hoverBox.y) - 24);
  const right = Math.max(span.x + span.width, hoverBox.x + hoverBox.width) + 24;
  const bottom = Math.max(span.y + span.height, hoverBox.y + hoverBox.height) + 24;
  await save(page, 'hover', { x: left, y: top, width: right - left, height: bottom - top });
  await page.mouse.move(0, 0);

  // The first paragraph selected: its label and the document's, in the status bar.
  await runCommand(page, 'GPT-2 Heads: Clear Tags');
  await runCommand(page, 'View: Toggle Word Wrap');
  await page.locator('.part.editor .view-lines').first().click();
  await page.keyboard.press('Control+Home');
  for (let line = 0; line < 3; line++) await page.keyboard.press('Shift+ArrowDown');
  await runCommand(page, 'GPT-2 Heads: Classify Selection');
  await page
    .locator('.statusbar-item', { hasText: /POSITIVE|NEGATIVE/ })
    .nth(1)
    .waitFor({ state: 'visible', timeout: 60_000 });
  await clearNotifications(page);
  await saveEditorWithStatusBar(page, 'classification');

  // A question about the whole document: the best answer is highlighted, all are listed.
  await page.locator('.part.editor .view-lines').first().click();
  await page.keyboard.press('Control+Home');
  await runCommand(page, 'GPT-2 Heads: Ask a Question…');
  const question = page.locator('.quick-input-widget input');
  await page.locator('.quick-input-widget', { hasText: 'Ask a Question' }).waitFor();
  await question.fill('Who did Ada meet at a party in Marylebone?');
  await page.keyboard.press('Enter');
  await page
    .locator('.quick-input-widget', { hasText: 'Answers to' })
    .waitFor({ state: 'visible', timeout: 60_000 });
  await page.waitForTimeout(300);
  await save(page, 'question', await editorTextBox(page));
  await page.keyboard.press('Escape');

  // An inline suggestion after typing at the end of the story.
  await runCommand(page, 'GPT-2 Heads: Clear Tags');
  await runCommand(page, 'GPT-2 Heads: Toggle Inline Suggestions');
  await clearNotifications(page);
  await page.locator('.part.editor .view-lines').first().click();
  await page.keyboard.press('Control+End');
  await page.keyboard.type('The next morning', { delay: 40 });
  await page
    .locator('.part.editor [class*="ghost-text"]')
    .first()
    .waitFor({ state: 'visible', timeout: 60_000 });
  await page.waitForTimeout(300);
  await save(page, 'inline', await editorTextBox(page));

  // The surprisal lens on the story as it was: colours, a hover's alternatives, the perplexity.
  await page.keyboard.press('Escape');
  await runCommand(page, 'GPT-2 Heads: Toggle Inline Suggestions');
  await clearNotifications(page);
  await page.locator('.part.editor .view-lines').first().click();
  await page.keyboard.press('Control+End');
  await page.keyboard.press('Shift+Home');
  await page.keyboard.press('Backspace');
  const before = await decorationCount(page);
  await runCommand(page, 'GPT-2 Heads: Show Surprisal (Toggle)');
  await waitForMoreDecorations(page, before);
  await clearNotifications(page);
  await page
    .locator('.statusbar-item', { hasText: 'bits/token' })
    .waitFor({ state: 'visible', timeout: 60_000 });
  const token = await page
    .locator('.part.editor .view-overlays [class*="ced-"]')
    .nth(20)
    .boundingBox();
  if (!token) throw new Error('no coloured token to hover');
  await page.mouse.move(token.x + token.width / 2, token.y + token.height / 2);
  await page
    .locator('.monaco-hover:not(.hidden)', { hasText: 'bits of surprisal' })
    .first()
    .waitFor({ state: 'visible', timeout: 10_000 });
  await page.waitForTimeout(300);
  await saveEditorWithStatusBar(page, 'surprisal');
}

/**
 * What a new user sees first: the page `npm start` opens, set up by the same code
 * (scripts/demo.ts), with the demo models. Taken once the story is tagged and classified.
 */
async function takeStartView(): Promise<void> {
  let demo: DemoServer | undefined;
  let workbench: Workbench | undefined;
  try {
    demo = await startDemoServer(join(repoRoot, '.cache', 'screenshots-start'), await freePort(), {
      'workbench.colorTheme': lookSettings['workbench.colorTheme'],
    });
    workbench = await launchBrowser(demo.profile);
    await workbench.page.setViewportSize({ width: 1024, height: 600 });
    await workbench.page.goto(demo.url);
    await waitForFirstView(workbench.page, Date.now(), 120_000);
    await clearNotifications(workbench.page);
    await workbench.page.mouse.move(0, 0);
    await workbench.page.waitForTimeout(500);
    await save(
      workbench.page,
      'start',
      { x: 0, y: 0, width: 1024, height: 600 },
      maxBytesWholeWorkbench,
    );
  } finally {
    await Promise.all([demo?.server.stop(), workbench?.close()]);
  }
}

async function main(): Promise<void> {
  if (process.argv.includes('--icon')) await renderIcon();
  mkdirSync(screenshotsDir, { recursive: true });
  await takeStartView();
  const profile = prepareProfile(join(repoRoot, '.cache', 'screenshots'), {
    ...userSettings(testModels()),
    ...lookSettings,
  });
  linkExtension(profile.extensionsDir);
  let server: CodeServer | undefined;
  let workbench: Workbench | undefined;
  try {
    server = await startCodeServer(profile, { port: await freePort(), offline: true });
    workbench = await launchBrowser(profile);
    await workbench.page.setViewportSize({ width: 1000, height: 560 });
    await workbench.page.goto(workbenchUrl(server.baseUrl, profile.workspace));
    await takeScreenshots(workbench.page).catch(async (error: unknown) => {
      const path = join(profile.root, 'failure.png');
      await workbench?.page.screenshot({ path });
      throw new Error(`${error instanceof Error ? error.message : String(error)} (see ${path})`);
    });
  } finally {
    await Promise.all([server?.stop(), workbench?.close()]);
  }
}

main().catch((error: unknown) => {
  console.error(`[screenshots] FAILED: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
