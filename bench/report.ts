// The markdown table README's Performance section quotes.
import type { HostResults } from './hostBench';
import { memoryReport } from './memoryBench';
import type { BenchResults } from './run';
import type { Stat } from './stats';

const ms = (value: number): string =>
  value >= 10000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;

function spread(s: Stat): string {
  return s.n > 1 ? ` (${ms(s.min)}–${ms(s.max)}, n=${s.n})` : ' (n=1)';
}

const median = (s: Stat): string => ms(s.median) + spread(s);
const mib = (bytes: number | undefined): string =>
  bytes === undefined ? '–' : `${Math.round(bytes / 2 ** 20)} MiB`;
const x = (value: number): string => `${value.toFixed(2)}×`;

type Row = [string, (host: HostResults) => string | undefined];

const ROWS: Row[] = [
  ['Host start-up to ready (fork → initialize answered)', (h) => ms(h.startupMs)],
  [
    'Model load (status loadMs): NER / POS / classification / QA / LM',
    (h) =>
      (['ner', 'pos', 'classification', 'qa', 'lm'] as const)
        .map((role) => (h.loadMs[role] === undefined ? '–' : ms(h.loadMs[role])))
        .join(' / '),
  ],
  [
    'NER, 10k-token document, cold',
    (h) =>
      h.ner &&
      `${median(h.ner.cold)}; ${h.ner.windows} windows, ${h.ner.tokens} tokens; ` +
        `${x(h.ner.coldToRaw)} raw (${ms(h.ner.rawEquivalentMs)})`,
  ],
  [
    'NER after a one-character edit in the middle',
    (h) =>
      h.ner &&
      `${median(h.ner.edit)}; ${x(h.ner.editToCold)} cold; ` +
        `windows re-run ${h.ner.editWindowsRerun.join(',')}; ${h.ner.editWindowsWorth.toFixed(2)} full windows' worth (goal ≤ 1.5), ` +
        `${h.ner.editAverageWindowsWorth.toFixed(2)} of this document's average window`,
  ],
  [
    'NER + POS together (checkpoints sharing one backbone: one graph) vs NER alone',
    (h) =>
      h.ner?.together &&
      `${median(h.ner.together.nerPos)}; ${x(h.ner.together.toNerAlone)} NER alone (goal ≤ 1.2×)`,
  ],
  [
    'Document classification, 10k tokens, cold',
    (h) =>
      h.classification &&
      `${median(h.classification.cold)}; ${h.classification.windows} windows; ` +
        `${x(h.classification.coldToRaw)} raw; ${x(h.classification.toNerCold ?? NaN)} NER cold`,
  ],
  [
    'Document classification right after NER tagging of the same document (heads sharing one graph)',
    (h) =>
      h.classification?.afterTagging &&
      `${Math.round(h.classification.afterTagging.classifyMs)} ms after ${Math.round(h.classification.afterTagging.tagMs)} ms of tagging: ` +
        `${(h.classification.afterTagging.ratio * 100).toFixed(1)}% extra (goal ≤ 10%)`,
  ],
  [
    'Document classification after a one-character edit',
    (h) =>
      h.classification &&
      `${median(h.classification.edit)}; ${x(h.classification.editToCold)} cold; ` +
        `windows changed ${h.classification.editWindowsRerun.join(',')}`,
  ],
  ...[0, 1, 2].map((i): Row => [
    ['QA, 1k-token context', 'QA, 2.5k-token context', 'QA, 5k-token context'][i],
    (h) => {
      const c = h.qa?.byContext[i];
      return (
        c &&
        `${median(c.time)}; ${c.windows} windows, ${ms(c.msPerWindow)}/window; ${x(c.toRaw)} raw`
      );
    },
  ]),
  [
    'Inline completion, 8 tokens after 1,000 tokens: cold (reuseCache false)',
    (h) => h.completion && `${median(h.completion.cold)}; ${x(h.completion.coldToRaw)} raw prefill`,
  ],
  [
    '… warm (same prefix + one word, reuseCache true)',
    (h) =>
      h.completion &&
      `${median(h.completion.warm)}; ${x(h.completion.warmSpeedup)} faster than cold (goal ≥ 5×; int8 p50 ≤ 250 ms)`,
  ],
  ['… decode per token', (h) => h.completion && median(h.completion.decodeMsPerToken)],
  [
    'Surprisal lens, 4k-token document, cold (log-softmax and top 5 of every token)',
    (h) =>
      h.surprisal &&
      `${median(h.surprisal.cold)}; ${h.surprisal.windows} windows, ${h.surprisal.tokens} tokens; ` +
        `${x(h.surprisal.coldToRaw)} the raw LM forward of the same windows (${ms(h.surprisal.rawLmMs)}; goal ≤ 1.1×)`,
  ],
  [
    'Surprisal after a one-character edit in the middle',
    (h) =>
      h.surprisal &&
      `${median(h.surprisal.edit)}; windows re-run ${h.surprisal.editWindowsRerun.join(',')}; ` +
        `${h.surprisal.editWindowsWorth.toFixed(2)} full windows' worth of the raw LM (${ms(h.surprisal.rawFullWindowMs)}; goal ≤ 1.5)`,
  ],
  [
    'Host RSS: idle / NER loaded / all five loaded / peak (status) / peak (kernel VmHWM)',
    (h) =>
      [
        h.memory.idleRssBytes,
        h.memory.afterNerLoadRssBytes,
        h.memory.afterAllLoadedRssBytes,
        h.memory.peakStatusRssBytes,
        h.memory.peakKernelRssBytes,
      ]
        .map(mib)
        .join(' / '),
  ],
];

export function markdownReport(results: BenchResults): string {
  const { machine: m, versions: v } = results;
  const lines: string[] = [];
  lines.push(
    `Benchmark of ${results.date.slice(0, 10)}: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ` +
      `${m.platform}; Node ${v.node}, onnxruntime-node ${v.onnxruntimeNode}, transformers.js ` +
      `${v.transformersJs}. Full-size GPT-2 with random weights (12 layers, 768 wide, vocab 50257, ` +
      `1024 positions), batch 1. Medians (min–max, n runs). Load average ${results.loadAverage.start.join(' ')} at the start, ` +
      `${results.loadAverage.end.join(' ')} at the end.`,
  );
  lines.push('');
  const raws = results.raw.filter((r) => Object.keys(r.forward).length > 0);
  const lengths = [...new Set(raws.flatMap((r) => Object.keys(r.forward).map(Number)))].sort(
    (a, b) => a - b,
  );
  lines.push(
    `| Raw backbone forward (onnxruntime-node, GPT2Model graph) | ${lengths.map((n) => `${n} tokens`).join(' | ')} | load |`,
  );
  lines.push(`|---|${lengths.map(() => '---|').join('')}---|`);
  for (const r of raws) {
    const threads =
      r.threads === 0 ? 'onnxruntime default threads' : `intraOpNumThreads ${r.threads}`;
    lines.push(
      `| ${r.dtype === 'q8' ? 'int8' : 'fp32'}, ${threads} | ` +
        lengths.map((n) => (r.forward[n] ? median(r.forward[n]) : '–')).join(' | ') +
        ` | ${ms(r.loadMs)} |`,
    );
  }
  lines.push('');
  const hosts = results.host;
  if (hosts.length > 0) {
    lines.push(
      `| Through the model host (threads ${hosts[0].threads === 0 ? 'default' : hosts[0].threads}) | ${hosts.map((h) => (h.dtype === 'q8' ? 'int8' : 'fp32')).join(' | ')} |`,
    );
    lines.push(`|---|${hosts.map(() => '---|').join('')}`);
    for (const [label, cell] of ROWS) {
      lines.push(`| ${label} | ${hosts.map((h) => cell(h) ?? 'skipped').join(' | ')} |`);
    }
    lines.push('');
  }
  if (results.memory) {
    lines.push(...memoryReport(results.memory));
    lines.push('');
  }
  lines.push(
    results.activationMs === undefined
      ? 'Extension activation in VS Code: not measured in this run.'
      : `Extension activation in VS Code (activate() in code-server's extension host): ${results.activationMs.toFixed(1)} ms; the model host starts on first use.`,
  );
  lines.push(
    `NER and POS share their backbone weights: ${results.sharedBackbone.nerPos ? 'yes' : 'no'} ` +
      `(sameBackbone); as safetensors checkpoints the host runs them as one graph with both heads.`,
  );
  lines.push(
    `"× raw": the host's time over the raw fp32/int8 forward of the same windows (interpolated ` +
      `from the table above at each window's length).`,
  );
  if (results.skipped.length > 0) {
    lines.push('');
    lines.push('Skipped:');
    for (const s of results.skipped) lines.push(`- ${s}`);
  }
  lines.push('');
  lines.push(`Total wall time ${ms(results.wallMs)}.`);
  return lines.join('\n');
}
