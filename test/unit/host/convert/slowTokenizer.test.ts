import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { zooDir } from '../../../support/fixtures';
import { tokenizerJsonFromSlowFiles } from '../../../../src/host/convert/slowTokenizer';

const read = (file: string): unknown => JSON.parse(fs.readFileSync(file, 'utf8'));

describe('tokenizer.json from vocab.json + merges.txt (as GPT2TokenizerFast converts them)', () => {
  it('equals the tokenizer.json transformers saves for the same tokenizer', () => {
    const built = tokenizerJsonFromSlowFiles(path.join(zooDir, 'lm-no-tokenizer-json'));
    assert.ok(built);
    assert.deepEqual(JSON.parse(built), read(path.join(zooDir, 'lm-fp16', 'tokenizer.json')));
  });

  it('adds the added tokens of tokenizer_config.json and added_tokens.json ([PAD] at 50257)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gpt2-heads-slow-'));
    try {
      for (const name of ['vocab.json', 'merges.txt'])
        fs.copyFileSync(path.join(zooDir, 'lm-no-tokenizer-json', name), path.join(dir, name));
      for (const name of ['tokenizer_config.json', 'added_tokens.json', 'special_tokens_map.json'])
        fs.copyFileSync(path.join(zooDir, 'lm-added-pad', name), path.join(dir, name));
      const built = JSON.parse(tokenizerJsonFromSlowFiles(dir)!) as unknown;
      assert.deepEqual(built, read(path.join(zooDir, 'lm-added-pad', 'tokenizer.json')));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names a damaged merges.txt line', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gpt2-heads-slow-'));
    try {
      fs.writeFileSync(path.join(dir, 'vocab.json'), '{"a": 0, "b": 1, "ab": 2}');
      fs.writeFileSync(path.join(dir, 'merges.txt'), '#version: 0.2\na b\na b c\n');
      assert.throws(() => tokenizerJsonFromSlowFiles(dir), /merges\.txt: line 3/);
      assert.equal(tokenizerJsonFromSlowFiles(os.tmpdir() + '/gpt2-heads-nowhere'), undefined);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
