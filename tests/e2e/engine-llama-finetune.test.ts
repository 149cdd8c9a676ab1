// Fine-tuning a LLaMA-style run through the engine worker in headless
// Chromium: DPO on all weights starts at ln 2 and raises the accuracy and the
// reward margin; LoRA with PEFT's LLaMA modules (q_proj, v_proj inside the
// fused qkv_proj, up_proj inside gate_up_proj, down_proj) lowers the
// validation loss, and its adapter file carries PEFT's LlamaForCausalLM names.
import { afterAll, describe, expect, it } from 'vitest';
import type { DpoStats, PreferencePair } from '../../src/engine/protocol';
import type { ModelShape, TrainConfig } from '../../src/model/config';
import { DEFAULT_TRAIN } from '../../src/model/config';
import type { LoraConfig } from '../../src/model/lora';
import { events, loaded, openEngine, request, trainToEnd } from './engine';
import { launch, stopServer } from './harness';
import { unzipSync } from 'fflate';
import { readSafetensors } from '../../src/model/safetensors';

afterAll(stopServer);

const TEXT =
  'First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n' +
  'First Citizen:\nYou are all resolved rather to die than to famish?\n\nAll:\nResolved. resolved.\n\n' +
  'First Citizen:\nFirst, you know Caius Marcius is chief enemy to the people.\n\nAll:\nWe know\'t, we know\'t.\n';

const MODEL: ModelShape = { block: 'llama', nLayer: 1, nHead: 4, nKvHead: 2, nEmbd: 16, ffnHidden: 24, blockSize: 16, dropout: 0, bias: false, tieWeights: false, activation: 'gelu' };
const TRAIN: TrainConfig = { ...DEFAULT_TRAIN, batchSize: 4, maxSteps: 20, learningRate: 1e-2, warmupSteps: 0, evalInterval: 10, evalIters: 2, checkpointInterval: 0, seed: 7 };
const LORA: LoraConfig = { r: 4, alpha: 8, modules: ['q_proj', 'v_proj', 'up_proj', 'down_proj'] };

describe('fine-tuning a LLaMA-style run', () => {
  it("DPO on all weights learns the preferences; LoRA trains with PEFT's LLaMA modules", async () => {
    const s = await launch();
    const { page } = s;
    try {
      await openEngine(page, s.url);
      loaded(await request(page, { kind: 'load', corpusName: 'e2e text', text: TEXT, model: MODEL, train: TRAIN, runName: 'Base' }));
      await trainToEnd(page);

      const pairs: PreferencePair[] = [
        { prompt: 'All:\n', chosen: 'Speak, speak.', rejected: 'We know\'t.' },
        { prompt: 'First ', chosen: 'Citizen:', rejected: 'you know' },
      ];
      // GPT-2 module names do not name a Linear of this block.
      const wrong = await request(page, { kind: 'startDpo', pairs, beta: 0.1, learningRate: 1e-2, steps: 4, target: 'lora', lora: { ...LORA, modules: ['attn.c_attn'] }, judge: '' });
      if (wrong.kind !== 'invalid') throw new Error(JSON.stringify(wrong));
      expect(wrong.problems.join(' ')).toMatch(/"attn.c_attn" is not a Linear layer of the model; choose among q_proj, k_proj/);

      await events(page);
      const steps = 12;
      const reply = loaded(await request(page, { kind: 'startDpo', pairs, beta: 0.1, learningRate: 3e-3, steps, target: 'all', judge: '' }));
      expect(reply.config.block).toBe('llama');
      await page.waitForFunction(() => window.__events!.some((e) => e.kind === 'dpoDone'), null, { timeout: 300_000, polling: 100 });
      const done = (await events(page)).find((e) => e.kind === 'dpoDone');
      if (done?.kind !== 'dpoDone') throw new Error('no dpoDone');
      expect(done.message).toBeUndefined();
      const hist: DpoStats[] = done.history;
      const [first, last] = [hist[0]!, hist.at(-1)!];
      console.log(`[e2e llama dpo] loss ${first.loss.toFixed(4)} -> ${last.loss.toFixed(4)}, margin ${first.margin.toFixed(4)} -> ${last.margin.toFixed(4)}, accuracy ${first.accuracy} -> ${last.accuracy}`);
      expect(hist).toHaveLength(steps + 1);
      expect(Math.abs(first.loss - Math.LN2)).toBeLessThan(1e-5);
      expect(first.margin).toBe(0);
      expect(last.margin).toBeGreaterThan(0);
      expect(last.accuracy).toBeGreaterThan(first.accuracy);
      expect(last.loss).toBeLessThan(first.loss);

      // LoRA on the DPO run: the base frozen, adapters on q_proj, v_proj, up_proj and down_proj.
      const ft = loaded(await request(page, { kind: 'startLora', corpusName: 'e2e text', text: TEXT, lora: LORA, train: { ...TRAIN, maxSteps: 20, learningRate: 2e-2 } }));
      expect(ft.config.block).toBe('llama');
      const [C, H, KV, I] = [MODEL.nEmbd, MODEL.nHead, MODEL.nKvHead!, MODEL.ffnHidden!];
      const D = C / H;
      // PEFT's count: r (in + out) per adapted Linear.
      expect(ft.fineTune!.trainable).toBe(LORA.r * ((C + H * D) + (C + KV * D) + (C + I) + (I + C)) * MODEL.nLayer);
      const start = ft.evalHistory![0].valLoss;
      const evals = await trainToEnd(page);
      const end = evals.at(-1)!;
      console.log(`[e2e llama lora] ${ft.fineTune!.peftLine}; validation loss ${start.toFixed(4)} -> ${end.valLoss.toFixed(4)} after ${end.step} steps`);
      expect(end.step).toBe(20);
      expect(end.valLoss).toBeLessThan(start - 0.05);
      const exported = await page.evaluate(async () => {
        const reply = await window.__engine!.request({ kind: 'exportAdapter' });
        return reply.kind === 'exported' ? { bytes: Array.from(new Uint8Array(reply.bytes)), error: '' } : { bytes: [] as number[], error: JSON.stringify(reply) };
      });
      expect(exported.error).toBe('');
      // PEFT's adapter folder, zipped: LLaMA's module names in adapter_config.json, PEFT's tensor names.
      const folder = unzipSync(Uint8Array.from(exported.bytes));
      expect(JSON.parse(new TextDecoder().decode(folder['adapter_config.json'])).target_modules).toEqual(['q_proj', 'v_proj', 'up_proj', 'down_proj']);
      const header = Object.fromEntries(readSafetensors(folder['adapter_model.safetensors']!).tensors);
      const names = Object.keys(header).sort();
      const peft = (path: string, w: string) => `base_model.model.model.layers.0.${path}.lora_${w}.weight`;
      expect(names).toEqual(['mlp.down_proj', 'mlp.up_proj', 'self_attn.q_proj', 'self_attn.v_proj'].flatMap((p) => [peft(p, 'A'), peft(p, 'B')]));
      expect(header[peft('self_attn.v_proj', 'B')].shape).toEqual([KV * D, LORA.r]);
      expect(header[peft('mlp.down_proj', 'A')].shape).toEqual([LORA.r, I]);
      expect(s.pageErrors).toEqual([]);
    } finally {
      await s.close();
    }
  });
});
