import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultZeroShotTemplate } from '../../src/heads/lmScoring';
import {
  headFor,
  headRoles,
  isHeadRole,
  modelsFor,
  taggingRoles,
  taskTable,
  type HeadRole,
} from '../../src/protocol';
import { repoRoot } from '../support/fixtures';

interface Setting {
  default?: unknown;
  description?: string;
  markdownDescription?: string;
}

const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  contributes: { configuration: { properties: Record<string, Setting> } };
  capabilities: { untrustedWorkspaces: { restrictedConfigurations: string[] } };
};
const properties = manifest.contributes.configuration.properties;

describe('the task table', () => {
  it('gives every head a described model setting that untrusted workspaces cannot set', () => {
    for (const role of headRoles) {
      const { setting } = taskTable[role];
      assert.equal(setting, `gpt2Heads.${role}.model`);
      const declared = properties[setting];
      assert.ok(declared, `${setting} is not in package.json`);
      assert.ok(declared.description ?? declared.markdownDescription, `${setting} has no text`);
      assert.equal(typeof declared.default, 'string');
      assert.ok(
        manifest.capabilities.untrustedWorkspaces.restrictedConfigurations.includes(setting),
        `${setting} is not restricted`,
      );
    }
  });

  it('lets the LM do classification and multiple choice, and only those, when their head has none', () => {
    const none = () => false;
    const fallsBack = headRoles.filter((role) => headFor(role, none) !== role);
    assert.deepEqual(fallsBack, ['classification', 'multipleChoice']);
    for (const role of fallsBack) assert.equal(headFor(role, none), 'lm');
    for (const role of headRoles)
      assert.equal(
        headFor(role, () => true),
        role,
      );
    // The CLI's use: a model whose architecture is the head's own does the head's task.
    const doubleHeads = (role: HeadRole) => taskTable[role].architecture === 'GPT2DoubleHeadsModel';
    assert.equal(headFor('multipleChoice', doubleHeads), 'multipleChoice');
  });

  it('builds HostSettings.models with one entry per head', () => {
    const models = modelsFor((role) => `source of ${role}`);
    assert.deepEqual(Object.keys(models), headRoles);
    assert.equal(models.ner, 'source of ner');
  });

  it('names the tagging heads by their token-classification rows', () => {
    assert.deepEqual(taggingRoles, ['ner', 'pos']);
    assert.ok(isHeadRole('qa'));
    assert.ok(!isHeadRole('toString'));
  });
});

describe('settings defaults', () => {
  it('keeps the zero-shot template in the heads and package.json only, equal', () => {
    assert.equal(properties['gpt2Heads.zeroShot.template'].default, defaultZeroShotTemplate);
  });

  it('reads every setting with a default from package.json and repeats none in a getter', () => {
    const source = readFileSync(join(repoRoot, 'src', 'client', 'settings.ts'), 'utf8');
    const keys = [...source.matchAll(/get<[^(]*>\('([\w.]+)'/g)].map((match) => match[1]);
    assert.ok(keys.length >= 30, `found only ${keys.length} getters`);
    for (const key of keys) {
      assert.ok(properties[`gpt2Heads.${key}`], `gpt2Heads.${key} is not in package.json`);
      assert.notEqual(properties[`gpt2Heads.${key}`].default, undefined, `${key} has no default`);
    }
    assert.doesNotMatch(source, /\.get<[^>]*>\([^)]*\)\s*\?\?/, 'a getter repeats a default');
  });
});
