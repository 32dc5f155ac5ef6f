// How a model is named where space is short (hovers, the status bar, notifications): a Hub id as
// it is, a local folder by its own name. The full path appears only in "Show Model Status", so a
// screenshot or a shared hover does not show the folders of the machine it came from.

/** Whether `source` names a folder rather than a Hub id (`name` or `owner/name`). */
function looksLikePath(source: string): boolean {
  return (
    source.startsWith('/') ||
    source.startsWith('.') ||
    source.startsWith('~') ||
    source.includes('\\') ||
    /^[A-Za-z]:/.test(source) ||
    source.split('/').filter(Boolean).length > 2
  );
}

/** The Hub id, or the last segment of a folder path ("/home/me/models/gpt2-ner/" → "gpt2-ner"). */
export function modelDisplayName(source: string): string {
  const trimmed = source.trim();
  if (!looksLikePath(trimmed)) return trimmed;
  const segments = trimmed.split(/[\\/]+/).filter((segment) => segment && segment !== '.');
  return segments.at(-1) ?? trimmed;
}
