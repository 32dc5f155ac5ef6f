import {
  tokenClassification,
  tokenClassificationOverWindows,
  type AggregationStrategy,
  type EntityGroup,
  type TokenEntity,
} from '../../heads/tokenClassification';
import type { TaggedSpan, TagOptions, TagResult, TextRange } from '../../protocol';
import {
  defaultLeftContextTokens,
  documentChunks,
  lineStarts,
  type DocumentChunk,
} from '../../text/documentChunks';
import { windowsFor } from '../../text/windows';
import { HostError, throwIfCancelled, type Cancellation } from '../errors';
import type { LoadedModel } from '../models/loadedModel';
import { cacheBudgets, cachePerOwner } from '../caches';
import { labelLogits } from '../tensors';
import { encode, requireArchitecture, runPadded } from './run';

export interface TaggingOptions {
  aggregation_strategy: AggregationStrategy;
  ignore_labels?: string[];
}

export interface TaggingResult {
  entities: (EntityGroup | TokenEntity)[];
  /** Windows the document was read in, and how many of them came from the cache. */
  windows: number;
  cachedWindows: number;
  tokens: number;
}

/** Logits of recent editor windows by their token ids, so edits re-run only what changed. */
const windowCache = cachePerOwner<Float32Array>(
  cacheBudgets.taggingWindows,
  (logits) => logits.byteLength,
);

function unkId(model: LoadedModel): number | undefined {
  const id = (model.tokenizer as unknown as { unk_token_id?: number | null }).unk_token_id;
  return typeof id === 'number' ? id : undefined;
}

function requireTokenClassifier(model: LoadedModel): number {
  requireArchitecture(
    model,
    'GPT2ForTokenClassification',
    'token-classification',
    'Point the NER or POS setting at such a model.',
  );
  return model.info.labels?.length ?? 0;
}

async function windowLogits(model: LoadedModel, ids: readonly number[]): Promise<Float32Array> {
  const outputs = await runPadded(model, [ids]);
  const labels = model.info.labels?.length ?? 0;
  return labelLogits(model.source, outputs, labels, true).data as Float32Array;
}

/**
 * Hugging Face's token-classification pipeline: without stride the text is truncated to the
 * model's context; with stride it is read in HF's overlapping windows and their entities merged.
 */
export async function tagText(
  model: LoadedModel,
  text: string,
  options: TaggingOptions & { stride?: number },
  token: Cancellation,
): Promise<TaggingResult> {
  requireTokenClassifier(model);
  const encoded = encode(model, text);
  const maxLength = model.config.n_positions;
  const unkTokenId = unkId(model);
  const common = { text, ...encoded, id2label: model.info.labels ?? [], unkTokenId };
  if (!options.stride) {
    const n = Math.min(encoded.ids.length, maxLength);
    const logits = n > 0 ? await windowLogits(model, encoded.ids.slice(0, n)) : new Float32Array(0);
    const truncated = {
      ...common,
      ids: encoded.ids.slice(0, n),
      tokens: encoded.tokens.slice(0, n),
      offsets: encoded.offsets.slice(0, n),
      logits,
    };
    return {
      entities: tokenClassification(truncated, options),
      windows: 1,
      cachedWindows: 0,
      tokens: n,
    };
  }
  if (options.aggregation_strategy === 'none') {
    throw new HostError(
      'stride needs an aggregation strategy other than "none" (as in Hugging Face): ' +
        'overlapping windows are merged by entity.',
    );
  }
  const windows = [];
  for (const window of windowsFor(encoded.ids.length, maxLength, options.stride)) {
    throwIfCancelled(token);
    const ids = encoded.ids.slice(window.start, window.start + window.length);
    windows.push({ ...window, logits: await windowLogits(model, ids) });
  }
  return {
    entities: tokenClassificationOverWindows({ ...common, windows }, options),
    windows: windows.length,
    cachedWindows: 0,
    tokens: encoded.ids.length,
  };
}

/**
 * The whole document, for the editor: causal windows with left context (see documentChunks),
 * whose logits are cached by content, then HF's aggregation over all tokens at once.
 */
export async function tagDocument(
  model: LoadedModel,
  text: string,
  options: TaggingOptions & {
    leftContextTokens?: number;
    useCache?: boolean;
    /** UTF-16 ranges on screen: their windows run first. */
    visibleRanges?: readonly TextRange[];
    /** The entities of each window as soon as it is done (the final result may merge them). */
    onWindow?: (entities: (EntityGroup | TokenEntity)[]) => void;
  },
  token: Cancellation,
): Promise<TaggingResult> {
  const labels = requireTokenClassifier(model);
  const encoded = encode(model, text);
  const maxLength = model.config.n_positions;
  const leftContextTokens = Math.min(
    options.leftContextTokens ?? defaultLeftContextTokens(maxLength),
    maxLength - 1,
  );
  const chunks = documentChunks(
    encoded.ids,
    lineStarts(text, encoded.offsets),
    maxLength,
    leftContextTokens,
  );
  const cache = options.useCache === false ? undefined : windowCache(model);
  const logits = new Float32Array(encoded.ids.length * labels);
  let cachedWindows = 0;
  let done = 0;
  const id2label = model.info.labels ?? [];
  for (const chunk of visibleFirst(chunks, encoded.offsets, options.visibleRanges)) {
    throwIfCancelled(token);
    const ids = encoded.ids.slice(chunk.windowStart, chunk.end);
    const key = ids.join(',');
    let window = cache?.get(key);
    if (window) cachedWindows++;
    else {
      window = await windowLogits(model, ids);
      cache?.set(key, window);
    }
    const skip = chunk.start - chunk.windowStart;
    const own = window.subarray(skip * labels, ids.length * labels);
    logits.set(own, chunk.start * labels);
    options.onWindow?.(
      tokenClassification(
        {
          text,
          ids: encoded.ids.slice(chunk.start, chunk.end),
          tokens: encoded.tokens.slice(chunk.start, chunk.end),
          offsets: encoded.offsets.slice(chunk.start, chunk.end),
          logits: own,
          id2label,
          unkTokenId: unkId(model),
        },
        options,
      ),
    );
    token.report?.(++done, chunks.length);
  }
  throwIfCancelled(token);
  return {
    entities: tokenClassification(
      {
        text,
        ...encoded,
        logits,
        id2label,
        unkTokenId: unkId(model),
      },
      options,
    ),
    windows: chunks.length,
    cachedWindows,
    tokens: encoded.ids.length,
  };
}

/** The chunks that cover a visible range first (in document order), then the others. */
function visibleFirst(
  chunks: DocumentChunk[],
  offsets: readonly (readonly [number, number])[],
  visible: readonly TextRange[] | undefined,
): DocumentChunk[] {
  if (!visible?.length) return chunks;
  const shown = (chunk: DocumentChunk) => {
    const from = offsets[chunk.start]?.[0] ?? 0;
    const to = offsets[chunk.end - 1]?.[1] ?? from;
    // Half-open: a chunk that ends where the screen begins is not on it.
    return visible.some((range) => range.start < to && range.end > from);
  };
  return [...chunks.filter(shown), ...chunks.filter((chunk) => !shown(chunk))];
}

/**
 * The editor's tag request: the whole document, its entities as spans; `onWindow` hears the
 * spans of each window as soon as it is done (the visible ones first).
 */
export async function tagRequest(
  model: LoadedModel,
  params: TagOptions & { text: string },
  token: Cancellation,
  onWindow?: (spans: TaggedSpan[]) => void,
): Promise<TagResult> {
  const result = await tagDocument(
    model,
    params.text,
    { ...params, onWindow: onWindow && ((entities) => onWindow(entities.map(toSpan))) },
    token,
  );
  return {
    spans: result.entities.map(toSpan),
    model: model.source,
    windows: result.windows,
    cachedWindows: result.cachedWindows,
    tokens: result.tokens,
  };
}

export function toSpan(entity: EntityGroup | TokenEntity): TaggedSpan {
  const label = 'entity_group' in entity ? entity.entity_group : entity.entity;
  return { label, score: entity.score, word: entity.word, start: entity.start, end: entity.end };
}
