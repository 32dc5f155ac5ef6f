import assert from 'node:assert/strict';
import { Tensor } from 'onnxruntime-node';
import {
  byteBoundedCache,
  bytesOfData,
  cacheBudgets,
  cachePerOwner,
} from '../../../src/host/caches';

/** A tagging window as the host caches it: the ids joined by commas, tokens × labels logits. */
function window(index: number, tokens: number, labels: number): [string, Float32Array] {
  const ids = Array.from({ length: tokens }, (_, i) => 10_000 + ((index * 7919 + i) % 40_000));
  return [ids.join(','), new Float32Array(tokens * labels)];
}

describe('byte-bounded caches', () => {
  it('keeps a cache of POS windows within its byte budget, keys included, newest kept', () => {
    const budget = 4 * 1024 * 1024;
    const cache = byteBoundedCache<Float32Array>(budget, (logits) => logits.byteLength);
    const keys: string[] = [];
    let stored = 0;
    // 400 windows of 1,024 tokens × 17 labels: ~28 MB of logits (+ keys) into 4 MB.
    for (let i = 0; i < 400; i++) {
      const [key, logits] = window(i, 1024, 17);
      cache.set(key, logits);
      keys.push(key);
      stored += logits.byteLength;
      assert.ok(cache.calculatedSize <= budget, `${cache.calculatedSize} bytes after ${i + 1}`);
    }
    assert.ok(stored > 5 * budget, 'the test stores more than the budget');
    let counted = 0;
    for (const [key, value] of cache.entries()) counted += value.byteLength + 2 * key.length;
    assert.equal(counted, cache.calculatedSize, 'the size counts the logits and the keys');
    assert.ok(counted > budget / 2, 'the cache uses its budget');
    assert.ok(cache.has(keys[keys.length - 1]), 'the newest window is kept');
    assert.ok(!cache.has(keys[0]), 'the oldest window is gone');
  });

  it('keeps a window it was just asked for over older ones', () => {
    const [firstKey, first] = window(0, 256, 9);
    const perEntry = first.byteLength + 2 * firstKey.length;
    const cache = byteBoundedCache<Float32Array>(3 * perEntry + 10, (l) => l.byteLength);
    cache.set(firstKey, first);
    const [secondKey, second] = window(1, 256, 9);
    cache.set(secondKey, second);
    const [thirdKey, third] = window(2, 256, 9);
    cache.set(thirdKey, third);
    assert.ok(cache.get(firstKey), 'the first window is still there');
    cache.set(...window(3, 256, 9));
    assert.ok(cache.has(firstKey), 'a window read again stays');
    assert.ok(!cache.has(secondKey), 'the least recently used window goes');
  });

  it('does not keep an entry larger than the whole budget', () => {
    const cache = byteBoundedCache<Float32Array>(1024, (logits) => logits.byteLength);
    cache.set('big', new Float32Array(1024));
    assert.equal(cache.size, 0);
    assert.equal(cache.calculatedSize, 0);
  });

  it('gives each model its own cache with the whole budget', () => {
    const cacheOf = cachePerOwner<Float32Array>(1000, (logits) => logits.byteLength);
    const [lm, ner] = [{}, {}];
    cacheOf(lm).set('a', new Float32Array(200));
    assert.equal(cacheOf(lm), cacheOf(lm));
    assert.notEqual(cacheOf(lm), cacheOf(ner));
    assert.equal(cacheOf(ner).size, 0);
    cacheOf(ner).set('b', new Float32Array(200));
    assert.ok(cacheOf(lm).has('a') && cacheOf(ner).has('b'));
  });

  it('counts the bytes of tensors and typed arrays', () => {
    const logits = new Tensor('float32', new Float32Array(12), [1, 3, 4]);
    const ids = new Tensor('int64', new BigInt64Array(5), [1, 5]);
    assert.equal(bytesOfData([logits, ids, new Float32Array(2)]), 48 + 40 + 8);
  });

  it('has budgets in megabytes, not entry counts', () => {
    for (const [name, bytes] of Object.entries(cacheBudgets)) {
      assert.ok(bytes >= 1024 * 1024 && bytes <= 256 * 1024 * 1024, `${name}: ${bytes} bytes`);
    }
  });
});
