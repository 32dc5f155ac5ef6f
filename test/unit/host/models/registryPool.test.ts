import assert from 'node:assert/strict';
import { RegistryPool, type PoolClient } from '../../../../src/host/models/registryPool';
import { transformers } from '../../../../src/host/models/runtime';
import { hostSettings } from '../../../support/hostProcess';

const client = (): PoolClient => ({ onProgress: () => undefined });

/** A request the host's network policy either blocks or lets through to a closed local port. */
async function fetchOutcome(): Promise<string> {
  try {
    await transformers().env.fetch('http://127.0.0.1:9/config.json');
    return 'fetched';
  } catch (error) {
    return /gpt2Heads\.offline/.test((error as Error).message) ? 'blocked' : 'network';
  }
}

describe('the registries of the shared host', () => {
  it('shares one registry between clients of the same settings, and not between others', async () => {
    const pool = new RegistryPool();
    const [a, b, c] = [client(), client(), client()];
    const first = pool.attach(a, hostSettings({}));
    assert.equal(pool.attach(b, hostSettings({})), first);
    assert.notEqual(pool.attach(c, hostSettings({}, { dtype: 'q8' })), first);
    assert.equal(pool.reconfigure(c, hostSettings({})), first);
    await pool.dispose();
  });

  it('keeps the whole host offline while any client is offline', async () => {
    const pool = new RegistryPool();
    const [online, offline] = [client(), client()];
    pool.attach(online, hostSettings({}, { offline: false }));
    assert.equal(await fetchOutcome(), 'network');
    pool.attach(offline, hostSettings({}, { offline: true }));
    assert.equal(await fetchOutcome(), 'blocked', 'a window asked for offline');
    pool.detach(offline);
    assert.equal(await fetchOutcome(), 'network', 'the offline window left');
    await pool.dispose();
  });
});
