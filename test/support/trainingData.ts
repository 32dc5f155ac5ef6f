// Learnable labelled data the tests generate: sentences of common English words whose label is
// a property of the word (its class), and texts whose label is the class of their last word.
// Seeded, so every run trains on the same data.
import { writeFileSync } from 'node:fs';
import { seededRandom } from '../../src/heads/linearProbe';

export const wordClasses: Record<string, string[]> = {
  ANIMAL: ['cat', 'dog', 'horse', 'bird', 'fish', 'cow', 'sheep'],
  COLOR: ['red', 'blue', 'green', 'black', 'white', 'yellow'],
  NUMBER: ['one', 'two', 'three', 'four', 'five', 'six'],
  O: ['the', 'and', 'of', 'to', 'in', 'with', 'a'],
};

const classOf = new Map(
  Object.entries(wordClasses).flatMap(([label, words]) => words.map((w) => [w, label] as const)),
);
const vocabulary = [...classOf.keys()];

export function syntheticSentences(
  count: number,
  seed: number,
): { words: string[]; labels: string[] }[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => {
    const length = 4 + Math.floor(random() * 8);
    const words = Array.from(
      { length },
      () => vocabulary[Math.floor(random() * vocabulary.length)],
    );
    return { words, labels: words.map((w) => classOf.get(w)!) };
  });
}

/** JSON Lines as Hugging Face datasets write token classification data (tags as names). */
export function writeSyntheticTokensJsonl(file: string, count: number, seed: number): void {
  writeFileSync(
    file,
    syntheticSentences(count, seed)
      .map((s) => JSON.stringify({ tokens: s.words, ner_tags: s.labels }))
      .join('\n') + '\n',
  );
}

/** CSV texts labelled by the class of their last (non-filler) word. */
export function writeSyntheticTextsCsv(file: string, count: number, seed: number): void {
  const random = seededRandom(seed);
  const classes = ['ANIMAL', 'COLOR', 'NUMBER'];
  const rows = Array.from({ length: count }, () => {
    const label = classes[Math.floor(random() * classes.length)];
    const lead = syntheticSentences(1, Math.floor(random() * 1e9))[0].words.slice(0, 5);
    const last = wordClasses[label][Math.floor(random() * wordClasses[label].length)];
    // Quoted fields with commas and doubled quotes, as RFC 4180 allows.
    return `"${[...lead, last].join(' ')}, said ""he"" ${last}",${label}`;
  });
  writeFileSync(file, ['text,label', ...rows].join('\r\n') + '\r\n');
}
