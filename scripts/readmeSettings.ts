// Rewrites the settings table of README.md from package.json (between the two marker comments),
// so the reference never drifts from the manifest: `node out/scripts/readmeSettings.js`.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface Setting {
  type?: string | string[];
  default?: unknown;
  description?: string;
  markdownDescription?: string;
  enum?: string[];
}

const root = join(__dirname, '..', '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  contributes: { configuration: { properties: Record<string, Setting> } };
};

const rows = Object.entries(manifest.contributes.configuration.properties).map(([key, setting]) => {
  const description = (setting.markdownDescription ?? setting.description ?? '').replace(
    /\|/g,
    '\\|',
  );
  const values = setting.enum ? ` (${setting.enum.map((v) => `\`${v}\``).join(', ')})` : '';
  return `| \`${key}\` | \`${JSON.stringify(setting.default)}\` | ${description}${values} |`;
});
const table = ['| Setting | Default | What it does |', '|---|---|---|', ...rows].join('\n');

const readmePath = join(root, 'README.md');
const readme = readFileSync(readmePath, 'utf8');
const start = '<!-- settings:start -->';
const end = '<!-- settings:end -->';
const before = readme.slice(0, readme.indexOf(start) + start.length);
const after = readme.slice(readme.indexOf(end));
if (!readme.includes(start) || !readme.includes(end))
  throw new Error('README.md has no settings markers');
writeFileSync(readmePath, `${before}\n${table}\n${after}`);
console.log(`README.md: ${rows.length} settings`);
