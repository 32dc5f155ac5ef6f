import * as assert from 'node:assert/strict';
import { modelDisplayName } from '../../../src/text/modelName';

describe('naming a model for hovers and the status bar', () => {
  it('keeps Hub ids, with or without an owner', () => {
    assert.equal(modelDisplayName('Xenova/gpt2'), 'Xenova/gpt2');
    assert.equal(
      modelDisplayName('MrRobson9/gpt2-ner-conll2003-english'),
      'MrRobson9/gpt2-ner-conll2003-english',
    );
    assert.equal(modelDisplayName('gpt2'), 'gpt2');
  });

  it('names a local folder by its own name, not its path', () => {
    assert.equal(modelDisplayName('/home/me/models/gpt2-ner'), 'gpt2-ner');
    assert.equal(modelDisplayName('/home/me/models/gpt2-ner/'), 'gpt2-ner');
    assert.equal(modelDisplayName('~/models/pos'), 'pos');
    assert.equal(modelDisplayName('./models/pos'), 'pos');
    assert.equal(modelDisplayName('C:\\Users\\me\\models\\gpt2-qa'), 'gpt2-qa');
    assert.equal(modelDisplayName('D:/models/gpt2-qa'), 'gpt2-qa');
    assert.equal(modelDisplayName('models/heads/gpt2-lm'), 'gpt2-lm');
  });
});
