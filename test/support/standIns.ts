// Both stand-in servers in a process of their own, for the tests that run inside VS Code:
// `node out/test/support/standIns.js SCRATCH_DIR LM_FOLDER NER_FOLDER` exports NER to a Triton
// repository, serves it and the LM on 127.0.0.1, and prints their URLs as one JSON line.
// It stops when its parent disconnects or sends SIGTERM.
import { join } from 'node:path';
import { exportTriton } from '../../src/host/convert/triton';
import { startCompletionsServer } from './completionsServer';
import { startOpenInferenceServer } from './openInferenceServer';

export interface StandInUrls {
  /** The NER model on the Open Inference Protocol stand-in. */
  ner: string;
  /** The Open Inference stand-in's base URL (POST /_fault switches faults). */
  openInference: string;
  /** The OpenAI-compatible base URL …/v1 (POST {origin}/_fault switches faults). */
  completions: string;
  completionsModel: string;
}

async function main([scratch, lmFolder, nerFolder]: string[]): Promise<void> {
  const repository = join(scratch, 'triton');
  await exportTriton({ models: [nerFolder], out: repository, name: 'ner', dtype: 'fp32' });
  const openInference = await startOpenInferenceServer(repository);
  const completions = await startCompletionsServer(lmFolder);
  const urls: StandInUrls = {
    ner: openInference.modelUrl('ner'),
    openInference: openInference.url,
    completions: completions.url,
    completionsModel: completions.modelName,
  };
  process.stdout.write(`${JSON.stringify(urls)}\n`);
  const stop = () => {
    void Promise.all([openInference.close(), completions.close()]).then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('disconnect', stop);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(1);
  });
}
