// How a model setting names its model: a Hugging Face Hub id, or a path to a local folder.

/** A Hub id as the Hub spells them: `name` or `owner/name`, letters, digits, - _ . */
export function isHubId(source: string): boolean {
  return /^[A-Za-z0-9][\w.-]*(\/[\w.-]+)?$/.test(source) && !source.includes('..');
}

/** Whether the setting is written as a path (absolute, relative, home or a drive letter). */
export function looksLikePath(source: string): boolean {
  return (
    source.startsWith('/') ||
    source.startsWith('\\') ||
    source.startsWith('.') ||
    source.startsWith('~') ||
    /^[A-Za-z]:[\\/]/.test(source)
  );
}
