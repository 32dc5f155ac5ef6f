// Pre-split words as GPT2TokenizerFast(add_prefix_space=True)(words, is_split_into_words=True)
// encodes them: each word is pre-tokenized on its own with a space in front, so "Paris" becomes
// "ĠParis" wherever it stands, the first word too. A word's label goes to its first token; the
// other tokens get none (-100 in transformers' training scripts) and take the word's label at
// inference, as aggregation_strategy="first" reads it.

export interface AlignedWords {
  ids: number[];
  /** Index of each word's first token. */
  firstTokens: number[];
  /** Word index of each token. */
  wordOfToken: number[];
}

export function alignWords(
  words: readonly string[],
  encode: (text: string) => readonly number[],
): AlignedWords {
  const ids: number[] = [];
  const firstTokens: number[] = [];
  const wordOfToken: number[] = [];
  words.forEach((word, w) => {
    const pieces = encode(` ${word}`);
    if (pieces.length === 0) throw new RangeError(`The word "${word}" encodes to no tokens.`);
    firstTokens.push(ids.length);
    for (const id of pieces) {
      ids.push(id);
      wordOfToken.push(w);
    }
  });
  return { ids, firstTokens, wordOfToken };
}

/** The text whose ordinary encoding gives the same tokens: every word after a space. */
export function prefixedText(words: readonly string[]): string {
  return words.map((word) => ` ${word}`).join('');
}
