import assert from 'node:assert/strict';
import {
  checkEndpointUrl,
  Limiter,
  plainHttpWarning,
  retryAfterMs,
} from '../../../../../src/host/models/remote/http';
import { parseEndpoint } from '../../../../../src/host/models/remote/openInference';
import { completionRequest } from '../../../../../src/host/models/remote/openaiCompletions';
import { globRegExp } from '../../../../../src/host/corpus';

describe('serving endpoints: URLs, retries and limits', () => {
  it('reads Retry-After in seconds and as an HTTP date', () => {
    assert.equal(retryAfterMs('2'), 2000);
    assert.equal(retryAfterMs('0.5'), 500);
    const now = Date.parse('Mon, 30 Nov 2026 12:00:00 GMT');
    assert.equal(retryAfterMs('Mon, 30 Nov 2026 12:00:03 GMT', now), 3000);
    assert.equal(retryAfterMs(null), undefined);
    assert.equal(retryAfterMs('soon'), undefined);
  });

  it('warns once per host about plain HTTP to another machine, never for loopback or https', () => {
    assert.equal(plainHttpWarning('http://127.0.0.1:8000/v2/models/a'), undefined);
    assert.equal(plainHttpWarning('http://localhost:8000/v1'), undefined);
    assert.equal(plainHttpWarning('https://triton.example:8000/v2/models/a'), undefined);
    assert.match(plainHttpWarning('http://triton.example:8000/v2/models/a') ?? '', /unencrypted/);
    assert.equal(plainHttpWarning('http://triton.example:8000/v2/models/b'), undefined);
  });

  it('refuses URLs with credentials, other schemes, and any endpoint while offline', () => {
    assert.throws(() => checkEndpointUrl('http://u:p@h/v1', 'x', false), /user name or password/);
    assert.throws(() => checkEndpointUrl('ftp://h/v1', 'x', false), /http:\/\/ or https:\/\//);
    assert.throws(() => checkEndpointUrl('not a url', 'x', false), /not a URL/);
    assert.throws(() => checkEndpointUrl('http://127.0.0.1/v1', 'x', true), /offline/);
    assert.equal(checkEndpointUrl('http://h:1/v1', 'x', false).port, '1');
  });

  it('splits a model URL into the server, the model and a fused head', () => {
    assert.deepEqual(parseEndpoint('http://t:8000/v2/models/heads/versions/2#h1', 's'), {
      model: 'http://t:8000/v2/models/heads/versions/2',
      server: 'http://t:8000',
      head: 'h1',
    });
    assert.equal(parseEndpoint('http://k/ns/v2/models/m/', 's').server, 'http://k/ns');
    assert.throws(() => parseEndpoint('http://t:8000/v1', 's'), /model's URL/);
  });

  it('sends greedy decoding as temperature 0 and sampling parameters only when sampling', () => {
    assert.deepEqual(completionRequest('m', 'p', { max_new_tokens: 5, top_p: 0.5 }, true), {
      model: 'm',
      prompt: 'p',
      max_tokens: 5,
      temperature: 0,
      stream: true,
    });
    const sampled = completionRequest(
      'm',
      'p',
      { do_sample: true, temperature: 0.8, top_p: 0.9, seed: 3, stop_strings: ['\n'] },
      false,
    );
    assert.deepEqual(
      [sampled.temperature, sampled.top_p, sampled.seed, sampled.stop],
      [0.8, 0.9, 3, ['\n']],
    );
  });

  it('lets at most `limit` tasks run at once', async () => {
    const limiter = new Limiter(2);
    let running = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 6 }, () =>
        limiter.run(async () => {
          peak = Math.max(peak, ++running);
          await new Promise((resolve) => setTimeout(resolve, 10));
          running--;
        }),
      ),
    );
    assert.equal(peak, 2);
  });

  it('matches corpus globs like a shell: ** spans folders, * stays in one', () => {
    const glob = globRegExp('/d/**/*.{txt,md}');
    assert.ok(glob.test('/d/a.txt'));
    assert.ok(glob.test('/d/x/y/b.md'));
    assert.ok(!glob.test('/d/x/b.json'));
    assert.ok(!globRegExp('/d/*.txt').test('/d/x/a.txt'));
  });
});
