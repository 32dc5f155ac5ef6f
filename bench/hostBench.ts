// The host's paths as the extension uses them, through the real host process: tagging,
// document classification, question answering and inline completion, each also put against
// the raw backbone forward measured in the same run.
import { methods, type HeadRole, type HostSettings, type WeightDtype } from '../src/protocol';
import type {
  AnswerParams,
  AnswerResult,
  ClassifyParams,
  ClassifyResult,
  GenerateParams,
  GenerateResult,
  TagParams,
  TagResult,
} from '../src/protocol';
import { defaultLeftContextTokens, documentChunks } from '../src/text/documentChunks';
import { defaultDocStride, defaultMaxSeqLen } from '../src/text/questionWindows';
import { windowsFor } from '../src/text/windows';
import { hostSettings } from '../test/support/hostProcess';
import type { Budget } from './budget';
import { encode, typingEdits, type Tokenizer } from './documents';
import { BenchHost } from './hostSession';
import type { BenchModels } from './models';
import { round, stat, timed, type Stat } from './stats';
import { benchSurprisal, type SurprisalResults } from './surprisalBench';

export interface Documents {
  /** Distinct ~10,000-token stretches of the corpus: [0] is "the document". */
  long: string[];
  /** A ~5,000-token context for question answering. */
  qaContext: string;
  question: string;
  /** Distinct ~1,000-token prefixes for completion. */
  prefixes: string[];
  /** What is typed, one character per re-analysis, in the middle of the document. */
  typed: string;
  /** Other ~10,000-token stretches for document classification (none of them tagged before). */
  classify: string[];
  /** One more, tagged and then classified: the cost classification adds to tagging. */
  tagThenClassify: string;
  /** A ~4,000-token stretch for the surprisal lens. */
  surprisal: string;
}

export interface Reps {
  cold: number;
  edits: number;
  together: number;
  qa: number;
  completion: number;
}

/** Raw forward ms at a sequence length, interpolated from the baseline measured in this run. */
export type RawMs = (tokens: number) => number;

export interface HostResults {
  dtype: WeightDtype;
  threads: number;
  startupMs: number;
  firstRequestMs: Partial<Record<HeadRole, number>>;
  loadMs: Partial<Record<HeadRole, number>>;
  memory: {
    idleRssBytes: number;
    afterNerLoadRssBytes?: number;
    afterAllLoadedRssBytes?: number;
    peakStatusRssBytes: number;
    peakKernelRssBytes?: number;
  };
  ner?: TaggingResults;
  classification?: ClassificationResults;
  qa?: QaResults;
  completion?: CompletionResults;
  surprisal?: SurprisalResults;
}

export interface TaggingResults {
  tokens: number;
  windows: number;
  cold: Stat;
  /** Σ raw forward at each window's length (windows replayed with documentChunks). */
  rawEquivalentMs: number;
  coldToRaw: number;
  edit: Stat;
  editToCold: number;
  /** Windows run again per keystroke (windows − cachedWindows of each result). */
  editWindowsRerun: number[];
  /** Median edit time over the raw forward of one full window (n_positions tokens; goal ≤ 1.5). */
  editWindowsWorth: number;
  /** Median edit time over the cold time per window of this document. */
  editAverageWindowsWorth: number;
  together?: { nerPos: Stat; posWindows: number; toNerAlone: number };
}

export interface ClassificationResults {
  tokens: number;
  windows: number;
  cold: Stat;
  rawEquivalentMs: number;
  coldToRaw: number;
  edit: Stat;
  editToCold: number;
  /** Windows whose tokens changed per keystroke (the result has no cache count; replayed here). */
  editWindowsRerun: number[];
  /** Document classification cold over NER cold on the same kind of document. */
  toNerCold?: number;
  /** Classifying a document right after tagging it (heads sharing one graph): time and ratio. */
  afterTagging?: { tagMs: number; classifyMs: number; ratio: number };
}

export interface QaResults {
  question: string;
  byContext: {
    contextTokens: number;
    windows: number;
    time: Stat;
    msPerWindow: number;
    rawEquivalentMs: number;
    toRaw: number;
  }[];
}

export interface CompletionResults {
  promptTokens: number;
  maxNewTokens: number;
  cold: Stat;
  warm: Stat;
  warmSpeedup: number;
  reusedTokens: number[];
  /** (warm 8 tokens − warm 1 token) / 7. */
  decodeMsPerToken: Stat;
  coldToRaw: number;
}

const TAG_OPTIONS = { aggregation_strategy: 'simple' as const, ignore_labels: ['O'] };

function tagParams(role: 'ner' | 'pos', text: string): TagParams {
  return { role, text, ...TAG_OPTIONS };
}

/** The chunks the host's tagDocument cuts a text into (with its default left context). */
export function taggingWindows(tokenizer: Tokenizer, text: string, maxLength: number) {
  const ids = encode(tokenizer, text);
  const endsLine = ids.map((id) => tokenizer.decode([id]).endsWith('\n'));
  return documentChunks(
    ids,
    (i) => endsLine[i - 1],
    maxLength,
    defaultLeftContextTokens(maxLength),
  );
}

/** Document classification reads the same windows as tagging. */
function classificationWindowKeys(tokenizer: Tokenizer, text: string, maxLength: number): string[] {
  const ids = encode(tokenizer, text);
  return taggingWindows(tokenizer, text, maxLength).map((w) =>
    ids.slice(w.windowStart, w.end).join(','),
  );
}

const ratio = (a: number, b: number) => round(a / b, 2);

export async function benchHost(options: {
  repoRoot: string;
  models: BenchModels;
  dtype: WeightDtype;
  threads: number;
  docs: Documents;
  reps: Reps;
  raw: RawMs;
  tokenizer: Tokenizer;
  maxLength: number;
  budget: Budget;
  log: (line: string) => void;
}): Promise<HostResults> {
  const { models, dtype, log } = options;
  const settings: HostSettings = hostSettings(
    {
      lm: models.folders.lm,
      // Checkpoints with one backbone: the host builds one graph for both heads.
      ner: models.checkpoints.ner,
      pos: models.checkpoints.pos,
      classification: models.checkpoints.sentiment,
      qa: models.folders.qa,
    },
    { dtype, threads: options.threads },
  );
  log(`[${dtype}] starting the host`);
  const host = await BenchHost.start(options.repoRoot, settings);
  try {
    const idle = await host.status();
    const results: HostResults = {
      dtype,
      threads: options.threads,
      startupMs: round(host.startMs),
      firstRequestMs: {},
      loadMs: {},
      memory: { idleRssBytes: idle.rssBytes, peakStatusRssBytes: 0 },
    };

    // Loads every model with a small first request, timing it (load included).
    const warmUps: [HeadRole, () => Promise<unknown>][] = [
      ['ner', () => host.request(methods.tag, tagParams('ner', 'Holmes met Watson.'))],
      ['pos', () => host.request(methods.tag, tagParams('pos', 'Holmes met Watson.'))],
      [
        'classification',
        () =>
          host.request<ClassifyParams, ClassifyResult>(methods.classify, {
            text: 'A fine day.',
            scope: 'document',
          }),
      ],
      [
        'qa',
        () =>
          host.request<AnswerParams, AnswerResult>(methods.answer, {
            question: 'Who?',
            context: 'Holmes met Watson.',
          }),
      ],
      [
        'lm',
        () =>
          host.request<GenerateParams, GenerateResult>(methods.generate, {
            prompt: 'Holmes met',
            options: { max_new_tokens: 2, do_sample: false },
            reuseCache: false,
          }),
      ],
    ];
    for (const [role, request] of warmUps) {
      const { ms } = await timed(request);
      results.firstRequestMs[role] = round(ms);
      const status = await host.status();
      results.loadMs[role] = host.loadMs(role, status);
      if (role === 'ner') results.memory.afterNerLoadRssBytes = status.rssBytes;
      log(
        `[${dtype}] ${role}: first request ${Math.round(ms)} ms, load ${results.loadMs[role]} ms`,
      );
    }
    results.memory.afterAllLoadedRssBytes = (await host.status()).rssBytes;
    host.sampleMemory();

    // Completion first: the budget then cuts the long document runs, not the one fp32 figure.
    results.completion = await benchCompletion(host, options, log);
    results.surprisal = await benchSurprisal(
      host,
      {
        ...options,
        text: options.docs.surprisal,
        typed: options.docs.typed,
        edits: options.reps.edits,
      },
      log,
    );
    results.ner = await benchTagging(host, options, log);
    results.classification = await benchClassification(host, options, log);
    if (results.ner && results.classification) {
      results.classification.toNerCold = ratio(
        results.classification.cold.median,
        results.ner.cold.median,
      );
    }
    results.qa = await benchQa(host, options, log);

    results.memory.peakKernelRssBytes = host.kernelPeakRss();
    await host.status();
    results.memory.peakStatusRssBytes = host.peakStatusRss;
    return results;
  } finally {
    await host.stop();
  }
}

type Options = Parameters<typeof benchHost>[0];

/** The long documents in the order they are tagged cold; the last one is then edited. */
function coldOrder(long: string[], count: number): string[] {
  const docs = long.slice(0, Math.max(1, count));
  return [...docs.slice(1), docs[0]];
}

async function benchTagging(
  host: BenchHost,
  { dtype, docs, reps, raw, tokenizer, maxLength, budget }: Options,
  log: (line: string) => void,
): Promise<TaggingResults | undefined> {
  const what = `[${dtype}] NER`;
  const estimate = (reps.cold + 1) * windowsEstimate(raw, docs.long[0], tokenizer, maxLength);
  if (!budget.allows(`${what} (cold, edits, NER+POS)`, estimate)) return undefined;

  const order = coldOrder(docs.long, reps.cold);
  const cold = await budget.repeat(`${what} cold`, order.length, async (i) => {
    const { ms, value } = await timed(() =>
      host.request<TagParams, TagResult>(methods.tag, tagParams('ner', order[i])),
    );
    log(`${what} cold: ${Math.round(ms)} ms, ${value.windows} windows, ${value.tokens} tokens`);
    return { ms, ...value };
  });
  const document = order[order.length - 1];
  const last = cold[cold.length - 1];
  // When the budget cut the cold runs short, the edits start from the last document tagged.
  const base = cold.length === order.length ? document : order[cold.length - 1];

  const chunks = taggingWindows(tokenizer, base, maxLength);
  const rawEquivalentMs = chunks.reduce((sum, c) => sum + raw(c.end - c.windowStart), 0);
  if (chunks.length !== last.windows) {
    log(`${what}: replayed ${chunks.length} windows, the host reports ${last.windows}`);
  }

  const edited = typingEdits(base, docs.typed).slice(0, reps.edits);
  const edits = await budget.repeat(`${what} edit`, edited.length, async (i) => {
    const { ms, value } = await timed(() =>
      host.request<TagParams, TagResult>(methods.tag, tagParams('ner', edited[i])),
    );
    log(
      `${what} edit ${i + 1}: ${Math.round(ms)} ms, ${value.windows - value.cachedWindows} windows run`,
    );
    return { ms, ...value };
  });

  const coldStat = stat(cold.map((r) => r.ms));
  const editStat = stat(edits.map((r) => r.ms));
  const results: TaggingResults = {
    tokens: last.tokens,
    windows: last.windows,
    cold: coldStat,
    rawEquivalentMs: round(rawEquivalentMs),
    coldToRaw: ratio(coldStat.median, rawEquivalentMs),
    edit: editStat,
    editToCold: ratio(editStat.median, coldStat.median),
    editWindowsRerun: edits.map((r) => r.windows - r.cachedWindows),
    editWindowsWorth: ratio(editStat.median, raw(maxLength)),
    editAverageWindowsWorth: ratio(editStat.median, coldStat.median / last.windows),
  };

  // NER and POS tag the same new document at once, as automatic tagging asks for both.
  const fresh = docs.long.slice(reps.cold, reps.cold + reps.together);
  if (fresh.length === 0 || !budget.allows(`${what}+POS together`, 2.2 * coldStat.median)) {
    return results;
  }
  let posWindows = 0;
  const together = await budget.repeat(`${what}+POS together`, fresh.length, async (i) => {
    const { ms, value } = await timed(() =>
      Promise.all([
        host.request<TagParams, TagResult>(methods.tag, tagParams('ner', fresh[i])),
        host.request<TagParams, TagResult>(methods.tag, tagParams('pos', fresh[i])),
      ]),
    );
    posWindows = value[1].windows;
    log(
      `${what}+POS together: ${Math.round(ms)} ms (${value[0].windows} + ${value[1].windows} windows)`,
    );
    return { ms };
  });
  const togetherStat = stat(together.map((r) => r.ms));
  results.together = {
    nerPos: togetherStat,
    posWindows,
    toNerAlone: ratio(togetherStat.median, coldStat.median),
  };
  return results;
}

/** Rough cost of one cold tagging of a document: its tokens in 768-token windows. */
function windowsEstimate(
  raw: RawMs,
  text: string,
  tokenizer: Tokenizer,
  maxLength: number,
): number {
  const tokens = encode(tokenizer, text).length;
  return (tokens / (maxLength * 0.6)) * raw(maxLength * 0.75);
}

async function benchClassification(
  host: BenchHost,
  { dtype, docs, reps, raw, tokenizer, maxLength, budget }: Options,
  log: (line: string) => void,
): Promise<ClassificationResults | undefined> {
  const what = `[${dtype}] document classification`;
  const tokens = encode(tokenizer, docs.classify[0]).length;
  const estimate = (reps.cold + 2) * (tokens / maxLength) * raw(maxLength);
  if (!budget.allows(`${what} (cold, edits)`, estimate)) return undefined;
  const classify = (text: string) =>
    timed(() =>
      host.request<ClassifyParams, ClassifyResult>(methods.classify, { text, scope: 'document' }),
    );

  const order = coldOrder(docs.classify, reps.cold);
  const cold = await budget.repeat(`${what} cold`, order.length, async (i) => {
    const { ms, value } = await classify(order[i]);
    log(`${what} cold: ${Math.round(ms)} ms, ${value.windows} windows`);
    return { ms, ...value };
  });
  const base = order[cold.length - 1];
  const last = cold[cold.length - 1];

  const edited = typingEdits(base, docs.typed).slice(0, reps.edits);
  let previous = classificationWindowKeys(tokenizer, base, maxLength);
  const rerun: number[] = [];
  const edits = await budget.repeat(`${what} edit`, edited.length, async (i) => {
    const keys = classificationWindowKeys(tokenizer, edited[i], maxLength);
    const known = new Set(previous);
    rerun.push(keys.filter((key) => !known.has(key)).length);
    previous = keys;
    const { ms } = await classify(edited[i]);
    log(`${what} edit ${i + 1}: ${Math.round(ms)} ms, ${rerun[i]} windows changed`);
    return { ms };
  });

  const rawEquivalentMs = taggingWindows(tokenizer, base, maxLength).reduce(
    (sum, w) => sum + raw(w.end - w.windowStart),
    0,
  );
  const coldStat = stat(cold.map((r) => r.ms));
  const editStat = stat(edits.map((r) => r.ms));
  let afterTagging: ClassificationResults['afterTagging'];
  if (budget.allows(`${what} after tagging`, (2 * estimate) / (reps.cold + 2))) {
    const text = docs.tagThenClassify;
    const tag = await timed(() =>
      host.request<TagParams, TagResult>(methods.tag, tagParams('ner', text)),
    );
    const after = await classify(text);
    afterTagging = {
      tagMs: round(tag.ms),
      classifyMs: round(after.ms),
      ratio: ratio(after.ms, tag.ms),
    };
    log(
      `${what} right after tagging the same document: ${Math.round(after.ms)} ms (tagging ${Math.round(tag.ms)} ms)`,
    );
  }
  return {
    afterTagging,
    tokens: last.tokens,
    windows: last.windows,
    cold: coldStat,
    rawEquivalentMs: round(rawEquivalentMs),
    coldToRaw: ratio(coldStat.median, rawEquivalentMs),
    edit: editStat,
    editToCold: ratio(editStat.median, coldStat.median),
    editWindowsRerun: rerun,
  };
}

async function benchQa(
  host: BenchHost,
  { dtype, docs, reps, raw, tokenizer, maxLength, budget }: Options,
  log: (line: string) => void,
): Promise<QaResults | undefined> {
  const what = `[${dtype}] question answering`;
  const contextIds = encode(tokenizer, docs.qaContext);
  const questionTokens = encode(tokenizer, docs.question).length;
  const maxSeqLen = defaultMaxSeqLen(maxLength);
  const room = maxSeqLen - questionTokens;
  const results: QaResults = { question: docs.question, byContext: [] };
  for (const size of [1000, 2500, 5000]) {
    const context =
      size >= contextIds.length
        ? docs.qaContext
        : tokenizer.decode(contextIds.slice(0, size)).replace(/\uFFFD+$/, '');
    const contextTokens = encode(tokenizer, context).length;
    const windows = windowsFor(contextTokens, room, defaultDocStride(maxSeqLen));
    const rawEquivalentMs = windows.reduce((sum, w) => sum + raw(questionTokens + w.length), 0);
    if (!budget.allows(`${what} over ${size} tokens`, reps.qa * rawEquivalentMs * 1.5)) continue;
    const runs = await budget.repeat(`${what} over ${size} tokens`, reps.qa, async () => {
      const { ms } = await timed(() =>
        host.request<AnswerParams, AnswerResult>(methods.answer, {
          question: docs.question,
          context,
        }),
      );
      return { ms };
    });
    const time = stat(runs.map((r) => r.ms));
    log(
      `${what} over ${contextTokens} tokens: ${Math.round(time.median)} ms, ${windows.length} windows`,
    );
    results.byContext.push({
      contextTokens,
      windows: windows.length,
      time,
      msPerWindow: round(time.median / windows.length),
      rawEquivalentMs: round(rawEquivalentMs),
      toRaw: ratio(time.median, rawEquivalentMs),
    });
  }
  return results.byContext.length > 0 ? results : undefined;
}

async function benchCompletion(
  host: BenchHost,
  { dtype, docs, reps, raw, budget }: Options,
  log: (line: string) => void,
): Promise<CompletionResults | undefined> {
  const what = `[${dtype}] inline completion`;
  const maxNewTokens = 8;
  if (!budget.allows(what, reps.completion * 1.5 * raw(1000))) return undefined;
  const generate = (prompt: string, max: number, reuseCache: boolean) =>
    timed(() =>
      host.request<GenerateParams, GenerateResult>(methods.generate, {
        prompt,
        options: { max_new_tokens: max, do_sample: false },
        reuseCache,
      }),
    );
  const prefixes = docs.prefixes.slice(0, reps.completion);
  const runs = await budget.repeat(what, prefixes.length, async (i) => {
    // Cold: no reuse. Warm: the same prefix and one more word, reusing the cold run's cache.
    const cold = await generate(prefixes[i], maxNewTokens, false);
    const nextWord = prefixes[i] + ' again';
    const warm = await generate(nextWord, maxNewTokens, true);
    // One token after the same prompt again: the prefix's cache and a single step.
    const single = await generate(nextWord, 1, true);
    const steps = warm.value.new_token_ids.length - 1;
    log(
      `${what}: cold ${Math.round(cold.ms)} ms, warm ${Math.round(warm.ms)} ms ` +
        `(reused ${warm.value.reused_tokens} of ${warm.value.prompt_tokens} tokens)`,
    );
    return {
      ms: cold.ms + warm.ms + single.ms,
      cold: cold.ms,
      warm: warm.ms,
      promptTokens: cold.value.prompt_tokens,
      reused: warm.value.reused_tokens,
      decode: steps > 0 ? (warm.ms - single.ms) / steps : NaN,
    };
  });
  const cold = stat(runs.map((r) => r.cold));
  const warm = stat(runs.map((r) => r.warm));
  const promptTokens = runs[0].promptTokens;
  return {
    promptTokens,
    maxNewTokens,
    cold,
    warm,
    warmSpeedup: ratio(cold.median, warm.median),
    reusedTokens: runs.map((r) => r.reused),
    decodeMsPerToken: stat(runs.map((r) => r.decode).filter((d) => !Number.isNaN(d))),
    coldToRaw: ratio(cold.median, raw(promptTokens)),
  };
}
