/**
 * Text from a model (labels from config.json, answers, model names) as literal Markdown: every
 * ASCII punctuation character is backslash-escaped (CommonMark allows escaping any of them), and
 * line breaks become spaces, so no link, image, HTML tag, heading or list can come out of it.
 */
export function escapeMarkdown(text: string): string {
  return text
    .replace(/[\r\n\u2028\u2029]+/g, ' ')
    .replace(/[!-/:-@[-`{-~]/g, (char) => `\\${char}`);
}
