// Fine-tuning the open run, as the page sees it: the LoRA form and its target
// text, the adapter strength (one value for every view that shows it), merge
// and adapter files; and DPO: continuations to compare, the preference pairs,
// the judge rule, and the statistics of a DPO run as its steps stream in.
// The form values and the pairs are kept in localStorage across reloads; the
// runs themselves are stored by the engine. The forms, their validation and
// the store's shape are in ./finetuneForms.ts.

import { create } from 'zustand';
import type { EngineEvent, EngineReply, SamplingSettings } from '../../engine/protocol';
import { minCorpusChars } from '../../data/corpus';
import { builtinCorpus, fetchBuiltin, readCorpus } from '../../data/readCorpus';
import { describeRule, judge, pairsFromJsonl, pairsToJsonl, vocabularyProblem, type PreferencePair } from '../../model/dpo';
import { validateLoraConfig, type LoraConfig } from '../../model/lora';
import { useGpu } from '../gpuStore';
import { download } from './checkpoints';
import { useData } from './data';
import {
  blockModules, dpoProblems, fieldPrompt, loraProblems, loraTrain, onTokens, pairsVocabularyProblem, readKept, rulePrompts, writeKept,
  type BeforeAfter, type Candidates, type DpoForm, type FineTuneState, type PagePair,
} from './finetuneForms';
import { useInsights } from './insights';
import { newRequestId, useInspect } from './inspect';
import { useSetup } from './setup';
import { useTraining, type LoadedReply } from './training';
import { readAdapterPick } from './adapterPick';

export {
  blockModules, DEFAULT_DPO, DEFAULT_LORA, DPO_LR, dpoEta, dpoProblems, loraProblems, loraTrain, pairsVocabularyProblem,
  type BeforeAfter, type Candidates, type DpoForm, type DpoRunView, type LoraForm, type LoraTarget, type PagePair, type PromptSource, type TargetText,
} from './finetuneForms';

// ---------------------------------------------------------------- state
const kept = readKept();
let nextPairId = kept.pairs.length + 1;
let labellingStopped = false;

function problemOf(reply: EngineReply): string {
  if (reply.kind === 'error') return reply.message;
  if (reply.kind === 'invalid') return reply.problems.join(' ');
  return `Unexpected reply '${reply.kind}'.`;
}

/** A new run from the engine becomes the open run: its setup goes into the form, then the page adopts it. */
export function adoptRun(reply: LoadedReply, corpusName: string): void {
  const { vocabSize: _v, ...shape } = reply.config;
  void _v;
  const setup = useSetup.getState().actions;
  setup.setModel(shape);
  setup.setTrain({ lrDecaySteps: undefined, ...reply.train });
  useTraining.getState().actions.adopt(reply, corpusName);
}

/** One continuation of `prompt` with the Sampling tab's settings and this seed (the new text only). */
async function continuation(prompt: string, seed: number, form: DpoForm): Promise<string> {
  const engine = useGpu.getState().engine;
  if (!engine) throw new Error('The GPU is not ready yet.');
  const sampling: SamplingSettings = { ...useSetup.getState().sampling, seed: seed >>> 0 };
  const reply = await engine.request({ kind: 'generate', requestId: newRequestId(), prompt, maxNewTokens: form.length, sampling });
  if (reply.kind !== 'generated') throw new Error(problemOf(reply));
  const text = reply.text;
  if (!form.stopAtNewline) return text;
  // The newline stays: it is how the model ends a line (a name), as an end-of-text token would.
  const nl = text.indexOf('\n');
  return nl < 0 ? text : text.slice(0, nl + 1);
}

/** Two continuations of a prompt with seeds derived from the sampling seed and the draw number. */
async function twoContinuations(prompt: string, draw: number, form: DpoForm): Promise<Candidates> {
  const seed = useSetup.getState().sampling.seed + 2 * draw;
  const a = await continuation(prompt, seed, form);
  const b = await continuation(prompt, seed + 1, form);
  return { prompt, a, b };
}

const nowMs = () => performance.now();

export const useFineTune = create<FineTuneState>((set, get) => {
  const save = () => writeKept({ lora: get().lora, dpo: get().dpo, pairs: get().pairs });
  const setPairs = (pairs: PagePair[]) => {
    set({ pairs });
    save();
  };
  const addPair = (pair: PreferencePair, by: string) => setPairs([...get().pairs, { ...pair, id: nextPairId++, by }]);

  // Strength changes are sent one at a time; moves of the slider meanwhile coalesce into the latest.
  let sending = false;
  async function flushStrength(): Promise<void> {
    if (sending) return;
    sending = true;
    try {
      for (;;) {
        const engine = useGpu.getState().engine;
        const strength = get().strength;
        if (!engine || get().appliedStrength === strength) return;
        const reply = await engine.request({ kind: 'setLoraStrength', strength });
        if (reply.kind !== 'ok') {
          set({ loraError: problemOf(reply) });
          return;
        }
        if (get().strength !== strength) continue;
        // The views show the model at the new strength: attention, the distribution, an inspection asked for.
        const inspect = useInspect.getState();
        const refreshes: Promise<void>[] = [inspect.actions.refreshDistribution()];
        if (inspect.attention || inspect.attentionPrompt) refreshes.push(inspect.actions.refreshAttention());
        const insights = useInsights.getState();
        if (insights.showing === 'request' && insights.requested) refreshes.push(insights.actions.inspect());
        await Promise.all(refreshes);
        if (get().strength === strength) set({ appliedStrength: strength });
      }
    } finally {
      sending = false;
    }
  }

  return {
    ...kept,
    strength: 1,
    appliedStrength: null,
    target: null,
    targetLoading: false,
    targetError: null,
    loraBusy: null,
    loraError: null,
    loraNote: null,
    candidates: null,
    writing: null,
    dpoError: null,
    dpoNote: null,
    importError: null,
    dpoRun: null,
    compare: null,
    actions: {
      setLora(patch) {
        const before = get().lora;
        set({ lora: { ...before, ...patch } });
        save();
        if (patch.target !== undefined && patch.target !== before.target) void get().actions.loadTarget();
      },
      setDpo(patch) {
        set({ dpo: { ...get().dpo, ...patch } });
        save();
      },
      async loadTarget() {
        const { lora } = get();
        const blockSize = useTraining.getState().loaded?.config.blockSize ?? useSetup.getState().model.blockSize;
        if (lora.target === 'own') {
          if (!lora.ownText) {
            set({ target: null, targetError: null });
            return;
          }
          return get().actions.useOwnText(lora.ownText, lora.ownName);
        }
        const corpus = builtinCorpus(lora.target);
        set({ targetLoading: true, targetError: null });
        try {
          const blob = await fetchBuiltin(corpus);
          const result = await readCorpus(corpus.label, blob, minCorpusChars(blockSize));
          if (get().lora.target !== corpus.id) return;
          if (result.ok) set({ target: { name: corpus.label, text: result.text, builtIn: true }, targetError: null });
          else set({ target: null, targetError: result.message });
        } catch (e) {
          set({ target: null, targetError: (e as Error).message });
        } finally {
          set({ targetLoading: false });
        }
      },
      async useOwnText(text, name) {
        const blockSize = useTraining.getState().loaded?.config.blockSize ?? useSetup.getState().model.blockSize;
        set({ targetLoading: true, targetError: null });
        const result = await readCorpus(name, new Blob([text], { type: 'text/plain' }), minCorpusChars(blockSize));
        set({ targetLoading: false });
        if (!result.ok) {
          set({ target: null, targetError: result.message });
          return;
        }
        set({ target: { name, text: result.text, builtIn: false }, lora: { ...get().lora, target: 'own', ownText: result.text, ownName: name } });
        save();
      },
      async startLora() {
        const engine = useGpu.getState().engine;
        const loaded = useTraining.getState().loaded;
        const { lora, target } = get();
        if (!engine || !loaded || !target || get().loraBusy) return;
        // A run on tokens: the engine encodes the text with the run's tokenizer and names what it cannot.
        const problem = onTokens(loaded) ? null : vocabularyProblem(target.text, loaded.vocab, target.name);
        const problems = loraProblems(lora, useTraining.getState().loaded?.config);
        if (problem || problems.length) {
          set({ loraError: problem ?? problems.join(' ') });
          return;
        }
        // A run in progress pauses first: the base is the model as it is at a step.
        if (useTraining.getState().state === 'running') await useTraining.getState().actions.command('pause');
        set({ loraBusy: 'start', loraError: null, loraNote: null });
        try {
          const config: LoraConfig = { r: lora.r, alpha: lora.alpha, modules: blockModules(lora, useTraining.getState().loaded?.config) };
          const reply = await engine.request({
            kind: 'startLora',
            corpusName: target.name,
            text: target.text,
            builtIn: target.builtIn,
            lora: config,
            train: loraTrain(loaded.train ?? useSetup.getState().train, lora),
            runName: `${loaded.runName} + LoRA on ${target.name}`,
          });
          if (reply.kind !== 'loaded') {
            set({ loraError: problemOf(reply) });
            return;
          }
          adoptRun(reply, target.name);
          set({ loraNote: `Opened the LoRA run "${reply.runName}": press Train to fine-tune it.` });
        } finally {
          set({ loraBusy: null });
        }
      },
      setStrength(strength) {
        const s = Math.max(0, Math.min(1, Math.round(strength * 100) / 100));
        if (s === get().strength && get().appliedStrength === s) return;
        set({ strength: s });
        void flushStrength();
      },
      async merge() {
        const engine = useGpu.getState().engine;
        const loaded = useTraining.getState().loaded;
        if (!engine || !loaded || get().loraBusy) return;
        if (useTraining.getState().state === 'running') await useTraining.getState().actions.command('pause');
        set({ loraBusy: 'merge', loraError: null, loraNote: null });
        try {
          const reply = await engine.request({ kind: 'mergeLora' });
          if (reply.kind !== 'loaded') {
            set({ loraError: problemOf(reply) });
            return;
          }
          adoptRun(reply, loaded.corpusName);
          set({ loraNote: `Merged the adapters into the new run "${reply.runName}" (W + lora_alpha/r · B A): it is a full model, open now.` });
        } finally {
          set({ loraBusy: null });
        }
      },
      async exportAdapter() {
        const engine = useGpu.getState().engine;
        if (!engine || get().loraBusy) return;
        set({ loraBusy: 'export', loraError: null, loraNote: null });
        try {
          const reply = await engine.request({ kind: 'exportAdapter' });
          if (reply.kind !== 'exported') {
            set({ loraError: problemOf(reply) });
            return;
          }
          download(reply.bytes, reply.fileName);
          set({ loraNote: `Exported ${reply.fileName} (${reply.bytes.byteLength.toLocaleString('en-US')} bytes, the adapters at step ${reply.step}).` });
        } finally {
          set({ loraBusy: null });
        }
      },
      async importAdapter(files) {
        const engine = useGpu.getState().engine;
        const loaded = useTraining.getState().loaded;
        if (!engine || !loaded || get().loraBusy) return;
        set({ loraBusy: 'import', loraError: null, loraNote: null });
        try {
          const pick = await readAdapterPick(Array.isArray(files) ? files : [files]);
          if ('problem' in pick) {
            set({ loraError: pick.problem });
            return;
          }
          const { bytes, fileName, configJson } = pick;
          if (useTraining.getState().state === 'running') await useTraining.getState().actions.command('pause');
          const reply = await engine.request({ kind: 'importAdapter', bytes, fileName, configJson }, [bytes]);
          if (reply.kind !== 'loaded') {
            set({ loraError: `${fileName} was not imported: ${problemOf(reply)} The open run is unchanged.` });
            return;
          }
          adoptRun(reply, loaded.corpusName);
          set({ loraNote: `Imported ${fileName}${configJson !== undefined ? ' (with adapter_config.json)' : ''} onto "${loaded.runName}" as the LoRA run "${reply.runName}".` });
        } finally {
          set({ loraBusy: null });
        }
      },
      async writeContinuations() {
        if (get().writing || !useTraining.getState().loaded) return;
        const form = get().dpo;
        set({ writing: { done: 0, total: 1 }, dpoError: null, dpoNote: null, candidates: null });
        try {
          const candidates = await twoContinuations(fieldPrompt(form), form.draws, form);
          get().actions.setDpo({ draws: form.draws + 1 });
          set({ candidates });
          if (candidates.a === candidates.b) set({ dpoNote: 'Both continuations are the same (greedy sampling, or a very sure model): skip this one, or raise the temperature in the Sampling tab.' });
        } catch (e) {
          set({ dpoError: (e as Error).message });
        } finally {
          set({ writing: null });
        }
      },
      pick(which) {
        const c = get().candidates;
        if (!c) return;
        set({ candidates: null, dpoNote: null });
        if (which === 'a') addPair({ prompt: c.prompt, chosen: c.a, rejected: c.b }, '');
        else if (which === 'b') addPair({ prompt: c.prompt, chosen: c.b, rejected: c.a }, '');
      },
      async labelWithRule() {
        const loaded = useTraining.getState().loaded;
        if (get().writing || !loaded) return;
        const form = get().dpo;
        const rule = form.rule;
        if ((rule.kind === 'contains' && !rule.word) || (rule.kind === 'avoids' && !rule.char)) {
          set({ dpoError: rule.kind === 'contains' ? 'Type the word the rule looks for.' : 'Type the character the rule avoids.' });
          return;
        }
        const n = Math.max(1, Math.min(500, Math.floor(form.ruleCount)));
        const prompts = rulePrompts(form, n, corpusTextOfOpenRun(), onTokens(loaded));
        labellingStopped = false;
        set({ writing: { done: 0, total: n }, dpoError: null, dpoNote: null, candidates: null });
        let labelled = 0;
        let skipped = 0;
        let draw = form.draws;
        try {
          for (let i = 0; i < n && !labellingStopped; i++) {
            const c = await twoContinuations(prompts[i], draw++, form);
            const verdict = judge(rule, c.a, c.b);
            if (verdict === null) skipped++;
            else {
              labelled++;
              addPair(verdict === 'a' ? { prompt: c.prompt, chosen: c.a, rejected: c.b } : { prompt: c.prompt, chosen: c.b, rejected: c.a }, describeRule(rule));
            }
            set({ writing: { done: i + 1, total: n } });
          }
          set({
            dpoNote: `The rule ${describeRule(rule)}: ${labelled} pair${labelled === 1 ? '' : 's'} labelled, ${skipped} skipped (the rule could not tell the two apart)${labellingStopped ? ', then stopped' : ''}.`,
          });
        } catch (e) {
          set({ dpoError: (e as Error).message });
        } finally {
          get().actions.setDpo({ draws: draw });
          set({ writing: null });
        }
      },
      stopLabelling() {
        labellingStopped = true;
      },
      editPair(id, patch) {
        setPairs(get().pairs.map((p) => (p.id === id ? { ...p, ...patch } : p)));
      },
      deletePair(id) {
        setPairs(get().pairs.filter((p) => p.id !== id));
      },
      clearPairs() {
        setPairs([]);
      },
      exportPairs() {
        const text = pairsToJsonl(get().pairs);
        const bytes = new TextEncoder().encode(text);
        download(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer, 'preference-pairs.jsonl');
      },
      async importPairs(file) {
        set({ importError: null, dpoNote: null });
        let text: string;
        try {
          text = await file.text();
        } catch (e) {
          set({ importError: `${file.name} could not be read: ${(e as Error).message}` });
          return;
        }
        let pairs: PreferencePair[];
        try {
          pairs = pairsFromJsonl(text);
        } catch (e) {
          set({ importError: `${file.name} was not imported: ${(e as Error).message} The list is unchanged.` });
          return;
        }
        setPairs([...get().pairs, ...pairs.map((p) => ({ ...p, id: nextPairId++, by: `imported from ${file.name}` }))]);
        set({ dpoNote: `Imported ${pairs.length} pair${pairs.length === 1 ? '' : 's'} from ${file.name}.` });
      },
      async startDpo() {
        const engine = useGpu.getState().engine;
        const loaded = useTraining.getState().loaded;
        const { dpo: form, pairs, lora } = get();
        if (!engine || !loaded || get().dpoRun?.running) return;
        const problems = dpoProblems(form, pairs);
        const vocab = onTokens(loaded) ? null : pairsVocabularyProblem(pairs, loaded.vocab);
        if (problems.length || vocab) {
          set({ dpoError: vocab ?? problems.join(' ') });
          return;
        }
        const loraConfig: LoraConfig = { r: lora.r, alpha: lora.alpha, modules: blockModules(lora, loaded.config) };
        if (form.target === 'lora') {
          const bad = validateLoraConfig(loraConfig, loaded.config);
          if (bad.length) {
            set({ dpoError: `The LoRA settings above: ${bad.join(' ')}` });
            return;
          }
        }
        if (useTraining.getState().state === 'running') await useTraining.getState().actions.command('pause');
        set({ dpoError: null, dpoNote: null });
        // Before: the reference model on the comparison prompt and seed.
        const compare: BeforeAfter = { prompt: form.prompt || pairs[0].prompt, seed: useSetup.getState().sampling.seed, before: null, after: null };
        try {
          compare.before = await continuation(compare.prompt, compare.seed, form);
        } catch (e) {
          set({ dpoError: (e as Error).message });
          return;
        }
        set({ compare });
        const rules = [...new Set(pairs.map((p) => p.by))];
        const judgeLine = rules.length === 1 && rules[0] && !rules[0].startsWith('imported') ? rules[0] : '';
        const reply = await engine.request({
          kind: 'startDpo',
          pairs: pairs.map(({ prompt, chosen, rejected }) => ({ prompt, chosen, rejected })),
          beta: form.beta,
          learningRate: form.learningRate,
          steps: form.steps,
          target: form.target,
          ...(form.target === 'lora' ? { lora: loraConfig } : {}),
          judge: judgeLine,
          runName: `${loaded.runName} + DPO`,
        });
        if (reply.kind !== 'loaded') {
          set({ dpoError: problemOf(reply) });
          return;
        }
        // The run's view first, so adopting it is not taken for opening a stored DPO run.
        const history = reply.fineTune?.dpo?.history ?? [];
        set({
          dpoRun: { runId: reply.runId, steps: form.steps, history, running: true, firstAt: 0, lastAt: 0, firstStep: 0, stopped: false, message: null },
        });
        adoptRun(reply, loaded.corpusName);
      },
      async stopDpo() {
        const engine = useGpu.getState().engine;
        if (!engine || !get().dpoRun?.running) return;
        const reply = await engine.request({ kind: 'stopDpo' });
        if (reply.kind !== 'ok') set({ dpoError: problemOf(reply) });
      },
    },
  };
});

/** The open run's own text when the page has it (the data store's corpus, or the LoRA target it trains on). */
function corpusTextOfOpenRun(): string | null {
  const loaded = useTraining.getState().loaded;
  const target = useFineTune.getState().target;
  if (loaded && target && loaded.corpusName === target.name) return target.text;
  const corpus = useData.getState().corpus;
  return corpus && (!loaded || loaded.corpusName === corpus.name) ? corpus.text : null;
}

/** DPO step events stream into the statistics; the end samples the tuned model for the before/after view. */
export function handleFineTuneEvent(event: EngineEvent): void {
  const s = useFineTune.getState();
  const run = s.dpoRun;
  if (event.kind === 'dpoStep') {
    if (!run) return;
    const now = nowMs();
    const history = [...run.history.filter((h) => h.step < event.stats.step), event.stats];
    const first = run.firstAt === 0;
    useFineTune.setState({
      dpoRun: { ...run, history, steps: event.steps, firstAt: first ? now : run.firstAt, firstStep: first ? event.stats.step : run.firstStep, lastAt: now },
    });
  } else if (event.kind === 'dpoDone') {
    if (!run) return;
    useFineTune.setState({ dpoRun: { ...run, history: event.history, running: false, stopped: event.stopped, message: event.message ?? null } });
    void sampleAfter();
  }
}

async function sampleAfter(): Promise<void> {
  const { compare, dpo } = useFineTune.getState();
  if (!compare) return;
  try {
    const after = await continuation(compare.prompt, compare.seed, dpo);
    const now = useFineTune.getState().compare;
    if (now === compare) useFineTune.setState({ compare: { ...compare, after } });
  } catch (e) {
    useFineTune.setState({ dpoError: (e as Error).message });
  }
}

// The open run decides what the views show: a LoRA run brings its strength; a DPO run its record.
// A run adopted from the engine brings a new fineTune record; continuing the same run keeps it.
useTraining.subscribe((t, prev) => {
  if (!t.loaded || (t.loaded.runId === prev.loaded?.runId && t.loaded.fineTune === prev.loaded?.fineTune)) return;
  const ft = t.loaded.fineTune;
  if (ft?.kind === 'lora') {
    const strength = t.loaded.loraStrength ?? 1;
    useFineTune.setState({ strength, appliedStrength: strength });
  } else useFineTune.setState({ appliedStrength: null });
  const run = useFineTune.getState().dpoRun;
  if (ft?.kind === 'dpo' && ft.dpo && run?.runId !== t.loaded.runId) {
    // A DPO run opened from the Runs tab: its record, finished.
    useFineTune.setState({
      dpoRun: { runId: t.loaded.runId, steps: ft.dpo.history.at(-1)?.step ?? 0, history: ft.dpo.history, running: false, firstAt: 0, lastAt: 0, firstStep: 0, stopped: false, message: null },
      compare: null,
    });
  }
});
