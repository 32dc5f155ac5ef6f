// Endpoint URLs as the user writes them: which are this machine, and which travel unencrypted.
const warnedPlainHttp = new Set<string>();

/** Plain HTTP to another machine sends documents (and the key) unencrypted: say so once. */
export function plainHttpWarning(url: string): string | undefined {
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' || isLoopback(parsed.hostname)) return undefined;
  if (warnedPlainHttp.has(parsed.host)) return undefined;
  warnedPlainHttp.add(parsed.host);
  return (
    `${parsed.host} is reached over plain HTTP: documents travel unencrypted. ` +
    `Use https:// unless the network between here and the server is trusted.`
  );
}

export function isLoopback(hostname: string): boolean {
  return (
    hostname === 'localhost' ||
    hostname === '[::1]' ||
    hostname === '::1' ||
    /^127\.\d+\.\d+\.\d+$/.test(hostname)
  );
}
