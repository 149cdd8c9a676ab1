import { describe, expect, it } from 'vitest';
import { DEFAULT_TRAIN } from '../../src/model/config';
import { RunTokenizer } from '../../src/model/runTokenizer';
import { onTokens, rulePrompts } from '../../src/ui/stores/finetuneForms';
import { DEFAULT_DPO, DEFAULT_LORA, dpoEta, dpoProblems, loraProblems, loraTrain, pairsVocabularyProblem, type DpoRunView } from '../../src/ui/stores/finetune';

describe('fine-tune forms', () => {
  it('trains LoRA with the open run batch and evaluation settings, the form rate and steps, constant and without weight decay', () => {
    const base = { ...DEFAULT_TRAIN, batchSize: 6, evalInterval: 25, evalIters: 3, lrDecay: true, warmupSteps: 100, weightDecay: 0.1, lrDecaySteps: 5000 };
    const train = loraTrain(base, { ...DEFAULT_LORA, learningRate: 2e-3, steps: 150 });
    expect(train).toMatchObject({ batchSize: 6, evalInterval: 25, evalIters: 3, learningRate: 2e-3, maxSteps: 150, lrDecay: false, warmupSteps: 0, weightDecay: 0 });
    expect(train.lrDecaySteps).toBeUndefined();
  });

  it('states what is wrong with a LoRA form', () => {
    expect(loraProblems(DEFAULT_LORA)).toEqual([]);
    expect(loraProblems({ ...DEFAULT_LORA, r: 0, modules: [], learningRate: 0, steps: 2.5 })).toEqual([
      'The rank r must be a whole number from 1 to 64.',
      'Choose at least one target module (attn.c_attn, attn.c_proj, mlp.c_fc or mlp.c_proj).',
      'The learning rate must be a number above 0 and at most 1.',
      'Steps must be a whole number from 1 to 1,000,000.',
    ]);
  });

  it('states what is wrong with DPO settings and pairs', () => {
    const pair = { prompt: 'The ', chosen: 'whale', rejected: 'ship' };
    expect(dpoProblems(DEFAULT_DPO, [pair])).toEqual([]);
    expect(dpoProblems({ ...DEFAULT_DPO, beta: 0 }, [])).toEqual([
      'beta must be a positive number (TRL uses 0.1).',
      'Add preference pairs first: write continuations and pick, label them with the rule, or import a JSONL file.',
    ]);
    expect(dpoProblems(DEFAULT_DPO, [{ prompt: '', chosen: '', rejected: '' }])).toEqual(['Pair 1 needs a prompt of at least one character.', 'Pair 1 has two empty continuations.']);
    expect(pairsVocabularyProblem([pair], [...'The whalsip'])).toBeNull();
    expect(pairsVocabularyProblem([{ ...pair, chosen: 'Zoë' }], [...'The whalsipo'])).toBe(
      'The list of pairs has 2 characters the base model has never seen ("Z", "ë"); remove or replace them.',
    );
  });

  it('estimates the DPO run time left from its step rate', () => {
    const run: DpoRunView = {
      runId: 'r',
      steps: 40,
      history: [{ step: 10, loss: 0.5, rewardChosen: 0, rewardRejected: 0, margin: 0, accuracy: 1, gradNorm: 1 }],
      running: true,
      firstAt: 1000,
      lastAt: 6000,
      firstStep: 0,
      stopped: false,
      message: null,
    };
    // 10 steps in 5 s: 30 more take 15 s.
    expect(dpoEta(run)).toBeCloseTo(15, 9);
    expect(dpoEta({ ...run, running: false })).toBeNaN();
  });

  it('starts rule prompts at lines of the validation text: two characters, or a whole word a run on tokens can encode', async () => {
    const text = 'First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n'.repeat(10);
    const form = { ...DEFAULT_DPO, promptSource: 'lines' as const };
    expect(new Set(rulePrompts(form, 4, text))).toEqual(new Set(['\nFi', '\nBe', '\nAl', '\nSp']));
    const words = rulePrompts(form, 4, text, true);
    expect(new Set(words)).toEqual(new Set(['First', 'Before', 'All', 'Speak']));
    // Every one is in the vocabulary of a cl100k_base run on that text; the character prompts are not.
    const { tokenizer } = await RunTokenizer.forCorpus({ kind: 'cl100k_base' }, text);
    for (const w of words) expect(tokenizer.encodeProblem(w)).toBeNull();
    expect(tokenizer.encodeProblem(rulePrompts(form, 4, text))).not.toBeNull();
    expect(onTokens({ tokenizer: { kind: 'cl100k_base' } })).toBe(true);
    expect(onTokens({ tokenizer: { kind: 'char' } })).toBe(false);
    expect(onTokens({})).toBe(false);
  }, 60_000);
});
