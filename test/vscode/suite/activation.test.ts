import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { api } from './helpers';

describe('activation', () => {
  it('activates without loading a model and reports how long activation took', async () => {
    const extension = await api();
    const ms = extension.activationMs();
    assert.ok(Number.isFinite(ms) && ms >= 0, `activation time ${ms}`);
    console.log(`activation: ${ms.toFixed(1)} ms`);
    // The benchmark reads it from here (not a timed test: nothing is asserted about the figure).
    const file = process.env.GPT2_HEADS_ACTIVATION_FILE;
    if (file) writeFileSync(file, JSON.stringify({ activationMs: ms }));
  });
});
