// Heads whose checkpoints share the same backbone weights (e.g. NER and POS fine-tuned from one
// frozen GPT-2, or the same checkpoint configured twice) run as ONE ONNX graph whose outputs are
// all their logits: one forward pass per text window serves every head. Each head gets a session
// view that answers with its own outputs under the usual names; the last inputs' outputs are kept,
// so when another head asks for the same window it costs nothing.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { LRUCache } from 'lru-cache';
import { InferenceSession, type Tensor } from 'onnxruntime-node';
import { byteBoundedCache, bytesOfData, cacheBudgets } from '../caches';
import { readCheckpointWeights } from '../convert/checkpoint';
import { readGpt2Config, type Gpt2Config } from '../convert/gpt2Config';
import { backboneTensors, readGpt2Dims, type HeadKind } from '../convert/gpt2Graph';
import { convertInChild } from '../convert/inChild';
import { forEachChunk, sourceOf } from '../convert/safetensors';
import {
  hasSafetensors,
  readShardIndex,
  safetensorsFile,
  safetensorsIndexFile,
} from '../convert/weights';
import { writeFileAtomic } from '../files';

const headKinds: Record<string, HeadKind> = {
  GPT2ForTokenClassification: 'token-classification',
  GPT2ForSequenceClassification: 'sequence-classification',
  GPT2ForQuestionAnswering: 'question-answering',
};

const outputNames: Record<HeadKind, string[]> = {
  'token-classification': ['logits'],
  'sequence-classification': ['logits'],
  'question-answering': ['start_logits', 'end_logits'],
  'causal-lm': ['logits'],
};

interface Checkpoint {
  folder: string;
  config: Gpt2Config;
  kind: HeadKind;
  backbone: string;
}

interface Group {
  members: string[];
  session: Promise<InferenceSession>;
  recent: LRUCache<string, Record<string, Tensor>>;
  users: number;
}

/** Changes when the backbone identity is computed differently, so old remembered ones are ignored. */
const backboneHashVersion = 3;

/** The shard files a sharded safetensors checkpoint lists (none for a single file). */
function shardFiles(folder: string): string[] {
  try {
    return readShardIndex(folder, safetensorsIndexFile)?.shards ?? [];
  } catch {
    return [];
  }
}

/** The names, sizes and dates of a checkpoint's safetensors files: changes when they do. */
function weightFilesStamp(folder: string): string {
  return [safetensorsFile, safetensorsIndexFile, ...shardFiles(folder)]
    .filter((file) => existsSync(join(folder, file)))
    .map((file) => {
      const { size, mtimeMs } = statSync(join(folder, file));
      return `${file}:${size}:${mtimeMs}\n`;
    })
    .join('');
}

/** Forward passes of shared graphs so far (each serves every head of its group). */
export let sharedForwardPasses = 0;

export function sharesHead(architecture: string): boolean {
  return architecture in headKinds;
}

function inputsKey(feeds: Record<string, Tensor>): string {
  return Object.keys(feeds)
    .sort()
    .map(
      (name) =>
        `${name}:${feeds[name].dims.join('x')}:${Array.from(feeds[name].data as BigInt64Array).join(',')}`,
    )
    .join('|');
}

export class SharedBackbones {
  private readonly checkpoints = new Map<string, Promise<Checkpoint | undefined>>();
  private readonly groups = new Map<string, Group>();

  constructor(
    private readonly cacheDir: string,
    private readonly quantize: boolean,
    private readonly sessionOptions: InferenceSession.SessionOptions,
  ) {}

  /**
   * A session view for the checkpoint in `folder` when at least one of `peers` (other configured
   * checkpoint folders) has the same backbone; undefined when it has none.
   */
  async sessionFor(
    folder: string,
    peers: readonly string[],
  ): Promise<InferenceSession | undefined> {
    const self = await this.checkpoint(folder);
    if (!self) return undefined;
    const others = await Promise.all(
      peers.filter((peer) => peer !== folder).map((peer) => this.checkpoint(peer)),
    );
    const members = [self, ...others.filter((c): c is Checkpoint => c?.backbone === self.backbone)];
    if (members.length < 2) return undefined;
    members.sort((a, b) => a.folder.localeCompare(b.folder));
    const key = members.map((m) => m.folder).join('\n');
    let group = this.groups.get(key);
    if (!group) {
      group = {
        members: members.map((m) => m.folder),
        session: this.build(members),
        // Recent windows' outputs: another head tagging the same document finds them.
        recent: byteBoundedCache<Record<string, Tensor>>(cacheBudgets.sharedPasses, (outputs) =>
          bytesOfData(Object.values(outputs)),
        ),
        users: 0,
      };
      this.groups.set(key, group);
    }
    group.users++;
    const session = await group.session;
    return this.view(group, session, `h${group.members.indexOf(folder)}`, self.kind);
  }

  private checkpoint(folder: string): Promise<Checkpoint | undefined> {
    let pending = this.checkpoints.get(folder);
    if (!pending) {
      pending = Promise.resolve().then(() => {
        // Safetensors with tokenizer.json only: the shared graph is opened where the checkpoint is.
        if (!hasSafetensors(folder) || !existsSync(join(folder, 'tokenizer.json')))
          return undefined;
        const config = readGpt2Config(folder);
        const kind = headKinds[config.architectures?.[0] ?? ''];
        if (!kind) return undefined;
        return { folder, config, kind, backbone: this.backboneIdentity(folder, config) };
      });
      this.checkpoints.set(folder, pending);
    }
    return pending;
  }

  /**
   * A hash of everything that shapes the backbone's computation (not the head's label count or
   * pad id): its dimensions and its tensors' bytes, read a chunk at a time. Kept in the cache
   * folder under the weight files' sizes and dates, so a later start reads no weights at all.
   */
  private backboneIdentity(folder: string, config: Gpt2Config): string {
    const dims = readGpt2Dims(config);
    const stamp = createHash('sha256').update(`${backboneHashVersion}\n${folder}\n`);
    stamp.update(weightFilesStamp(folder));
    const remembered = join(this.cacheDir, 'backbones', stamp.digest('hex').slice(0, 32));
    if (existsSync(remembered)) return readFileSync(remembered, 'utf8');
    const hash = createHash('sha256');
    const backboneDims: Partial<typeof dims> = { ...dims };
    delete backboneDims.numLabels;
    delete backboneDims.padTokenId;
    hash.update(JSON.stringify(backboneDims));
    const tensors = backboneTensors(dims, readCheckpointWeights(folder));
    for (const [name, tensor] of [...tensors].sort(([a], [b]) => a.localeCompare(b))) {
      // Safetensors weights are opened lazily (readCheckpointWeights): hashed as stored, unread.
      const source = sourceOf(tensor)!;
      hash.update(`${name}\n${source.dtype}\n`);
      forEachChunk(source.file, source.offset, source.length, (chunk) => hash.update(chunk));
    }
    const identity = hash.digest('hex');
    try {
      writeFileAtomic(remembered, identity);
    } catch {
      // A cache folder that cannot be written only means hashing again next time.
    }
    return identity;
  }

  /** Builds (or finds in the cache) the graph with every member's head, and opens it. */
  private async build(members: Checkpoint[]): Promise<InferenceSession> {
    const identity = createHash('sha256');
    identity.update(this.quantize ? 'q8' : 'fp32');
    for (const member of members) {
      identity.update(member.backbone);
      const stat = statSync(join(member.folder, 'config.json'));
      identity.update(`${member.folder}:${stat.mtimeMs}`);
      identity.update(weightFilesStamp(member.folder));
    }
    const file = join(this.cacheDir, 'shared', `${identity.digest('hex').slice(0, 32)}.onnx`);
    if (!existsSync(file)) {
      await convertInChild({
        kind: 'shared',
        file,
        members: members.map(({ folder, kind }) => ({ folder, kind })),
        quantize: this.quantize,
      });
    }
    return InferenceSession.create(file, this.sessionOptions);
  }

  private view(
    group: Group,
    session: InferenceSession,
    prefix: string,
    kind: HeadKind,
  ): InferenceSession {
    const names = outputNames[kind];
    const run = async (feeds: Record<string, Tensor>) => {
      const key = inputsKey(feeds);
      let outputs = group.recent.get(key);
      if (!outputs) {
        outputs = (await session.run(feeds)) as Record<string, Tensor>;
        sharedForwardPasses++;
        group.recent.set(key, outputs);
      }
      return Object.fromEntries(names.map((name) => [name, outputs[`${prefix}.${name}`]]));
    };
    const release = async () => {
      group.users--;
      if (group.users <= 0) {
        for (const [key, value] of this.groups) if (value === group) this.groups.delete(key);
        await session.release();
      }
    };
    return {
      inputNames: session.inputNames.filter(
        (name) => name === 'input_ids' || name === 'attention_mask',
      ),
      outputNames: names,
      run,
      release,
    } as unknown as InferenceSession;
  }
}
