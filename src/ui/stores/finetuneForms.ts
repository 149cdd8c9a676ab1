// The Fine-tune tab's forms and the values derived from them, without the
// engine: the LoRA and DPO forms with their defaults, what is kept of them in
// localStorage across reloads, their validation as sentences, the LoRA run's
// training settings, the rule's prompts and the DPO run's ETA. The store that
// acts on them is ./finetune.ts.

import type { DpoStats } from '../../engine/protocol';
import type { CorpusId, ModelConfig, TrainConfig } from '../../model/config';
import { vocabularyProblem, type JudgeRule, type PreferencePair } from '../../model/dpo';
import { LLAMA_LORA_MODULES, LORA_MODULES, loraModulesOf, validateLoraConfig, type LoraModule } from '../../model/lora';

// ---------------------------------------------------------------- forms (kept across reloads)

export type LoraTarget = CorpusId | 'own';

export interface LoraForm {
  target: LoraTarget;
  /** The person's own target text (uploaded or pasted) and its name. */
  ownText: string;
  ownName: string;
  modules: LoraModule[];
  r: number;
  alpha: number;
  learningRate: number;
  steps: number;
}

export type PromptSource = 'field' | 'lines';

export interface DpoForm {
  prompt: string;
  /** Characters per continuation. */
  length: number;
  /** End each continuation at its first newline, kept (one name, one line). */
  stopAtNewline: boolean;
  beta: number;
  learningRate: number;
  steps: number;
  target: 'all' | 'lora';
  rule: JudgeRule;
  /** Pairs the rule labels per click. */
  ruleCount: number;
  /** Where the rule's prompts come from: the prompt field, or starts of lines of the corpus. */
  promptSource: PromptSource;
  /** Continuations written so far: each draw gets two new seeds. */
  draws: number;
}

/** A preference pair as the list shows it: who labelled it ('' = the person). */
export interface PagePair extends PreferencePair {
  id: number;
  by: string;
}

export const DEFAULT_LORA: LoraForm = {
  target: 'names',
  ownText: '',
  ownName: 'Your text',
  // every Linear of either block: the form shows (and a run uses) those of the open run's block
  modules: [...LORA_MODULES, ...LLAMA_LORA_MODULES],
  r: 8,
  alpha: 16,
  learningRate: 1e-3,
  steps: 200,
};

/** The learning rate a DPO run starts with, by what it trains. */
export const DPO_LR: Record<DpoForm['target'], number> = { all: 1e-4, lora: 1e-3 };

export const DEFAULT_DPO: DpoForm = {
  prompt: 'The ',
  length: 24,
  stopAtNewline: true,
  beta: 0.1,
  learningRate: DPO_LR.all,
  steps: 40,
  target: 'all',
  rule: { kind: 'shorter' },
  ruleCount: 8,
  promptSource: 'field',
  draws: 0,
};

const STORAGE_KEY = 'gpt-playground.finetune';
/** Own target texts longer than this are not kept across reloads (localStorage is small). */
const MAX_KEPT_TEXT = 1_000_000;

export interface Kept {
  lora: LoraForm;
  dpo: DpoForm;
  pairs: PagePair[];
}

export function readKept(): Kept {
  const fresh: Kept = { lora: { ...DEFAULT_LORA }, dpo: { ...DEFAULT_DPO }, pairs: [] };
  try {
    const raw = typeof localStorage === 'undefined' ? null : localStorage.getItem(STORAGE_KEY);
    if (!raw) return fresh;
    const kept = JSON.parse(raw) as Partial<Kept>;
    const lora = { ...DEFAULT_LORA, ...kept.lora };
    lora.modules = (lora.modules ?? []).filter((m) => ([...LORA_MODULES, ...LLAMA_LORA_MODULES] as LoraModule[]).includes(m));
    if (!['moby-dick', 'names', 'own'].includes(lora.target)) lora.target = DEFAULT_LORA.target;
    const dpo = { ...DEFAULT_DPO, ...kept.dpo };
    const pairs = Array.isArray(kept.pairs)
      ? kept.pairs.filter((p) => typeof p?.prompt === 'string' && typeof p.chosen === 'string' && typeof p.rejected === 'string').map((p, i) => ({ ...p, id: i + 1, by: typeof p.by === 'string' ? p.by : '' }))
      : [];
    return { lora, dpo, pairs };
  } catch {
    return fresh;
  }
}

export function writeKept(k: Kept): void {
  try {
    const lora = k.lora.ownText.length > MAX_KEPT_TEXT ? { ...k.lora, ownText: '' } : k.lora;
    localStorage.setItem(STORAGE_KEY, JSON.stringify({ lora, dpo: k.dpo, pairs: k.pairs }));
  } catch {
    // Storage full or blocked: the forms still work, they are just not kept.
  }
}

// ---------------------------------------------------------------- views

export interface TargetText {
  name: string;
  text: string;
  builtIn: boolean;
}

export interface Candidates {
  prompt: string;
  a: string;
  b: string;
}

export interface DpoRunView {
  /** The run the statistics belong to. */
  runId: string;
  steps: number;
  history: DpoStats[];
  running: boolean;
  /** performance.now() of the first and latest step events, for the ETA. */
  firstAt: number;
  lastAt: number;
  firstStep: number;
  stopped: boolean;
  message: string | null;
}

/** The same prompt and seed sampled before DPO (the reference) and after it (the tuned model). */
export interface BeforeAfter {
  prompt: string;
  seed: number;
  before: string | null;
  after: string | null;
}

/** The form's modules that `model`'s block has, in PEFT's order (the GPT-2 block's without a model). */
export function blockModules(form: LoraForm, model?: ModelConfig | null): LoraModule[] {
  return (model ? loraModulesOf(model) : LORA_MODULES).filter((m) => form.modules.includes(m));
}

/** Problems with the LoRA form for the open run's block, as sentences. */
export function loraProblems(form: LoraForm, model?: ModelConfig | null): string[] {
  const out = validateLoraConfig({ r: form.r, alpha: form.alpha, modules: blockModules(form, model) }, model ?? undefined);
  if (!(form.learningRate > 0) || form.learningRate > 1) out.push('The learning rate must be a number above 0 and at most 1.');
  if (!Number.isInteger(form.steps) || form.steps < 1 || form.steps > 1_000_000) out.push('Steps must be a whole number from 1 to 1,000,000.');
  return out;
}

/** Problems with the DPO settings, as sentences. */
export function dpoProblems(form: DpoForm, pairs: PreferencePair[]): string[] {
  const out: string[] = [];
  if (!(form.beta > 0) || !Number.isFinite(form.beta)) out.push('beta must be a positive number (TRL uses 0.1).');
  if (!(form.learningRate > 0) || form.learningRate > 1) out.push('The learning rate must be a number above 0 and at most 1.');
  if (!Number.isInteger(form.steps) || form.steps < 1 || form.steps > 100_000) out.push('Steps must be a whole number from 1 to 100,000.');
  if (pairs.length === 0) out.push('Add preference pairs first: write continuations and pick, label them with the rule, or import a JSONL file.');
  pairs.forEach((p, i) => {
    if (!p.prompt) out.push(`Pair ${i + 1} needs a prompt of at least one character.`);
    if (!p.chosen && !p.rejected) out.push(`Pair ${i + 1} has two empty continuations.`);
  });
  return out;
}

/** A run on tokens (not characters): its texts are checked by the engine, with its tokenizer. */
export function onTokens(loaded: { tokenizer?: { kind: string } }): boolean {
  return !!loaded.tokenizer && loaded.tokenizer.kind !== 'char';
}

/** The sentence about characters of the pairs the open model cannot read, or null. */
export function pairsVocabularyProblem(pairs: PreferencePair[], vocab: readonly string[]): string | null {
  const text = pairs.map((p) => p.prompt + p.chosen + p.rejected).join('');
  return vocabularyProblem(text, vocab, 'The list of pairs');
}

/** The LoRA run's training settings: the open run's batch and evaluation settings, the form's rate and steps. */
export function loraTrain(base: TrainConfig, form: LoraForm): TrainConfig {
  return {
    ...base,
    learningRate: form.learningRate,
    maxSteps: form.steps,
    lrDecay: false,
    warmupSteps: 0,
    minLr: form.learningRate,
    // PEFT adapters train without weight decay (the Hugging Face Trainer's default).
    weightDecay: 0,
    lrDecaySteps: undefined,
  };
}

/** The prompt a pair continues: the field, or a newline (a fresh line of the corpus) when it is empty. */
export function fieldPrompt(form: DpoForm): string {
  return form.prompt || '\n';
}

/**
 * N prompts for the rule: the field's, or the starts of lines of the open run's
 * validation text: a newline and two characters for a character run; the
 * line's first word for a run on tokens (two characters are rarely a token of
 * it, and cl100k_base / o200k_base runs refuse pieces outside their corpus).
 */
export function rulePrompts(form: DpoForm, n: number, text: string | null, tokens = false): string[] {
  if (form.promptSource === 'field' || !text) return Array.from({ length: n }, () => fieldPrompt(form));
  const starts: string[] = [];
  const lines = text.slice(Math.floor(text.length * 0.9)).split('\n').filter((l) => l.length >= 2);
  const heads = tokens ? lines.flatMap((l) => l.match(/^\p{L}+/u) ?? []) : lines.map((l) => '\n' + l.slice(0, 2));
  if (heads.length === 0) return Array.from({ length: n }, () => fieldPrompt(form));
  const stride = Math.max(1, Math.floor(heads.length / n));
  for (let i = 0; i < n; i++) starts.push(heads[(i * stride) % heads.length]);
  return starts;
}

/** ETA of the DPO run from the rate of its steps so far, in seconds (NaN before two steps). */
export function dpoEta(run: DpoRunView): number {
  const last = run.history.at(-1)?.step ?? 0;
  const done = last - run.firstStep;
  if (!run.running || done <= 0) return NaN;
  return ((run.steps - last) * (run.lastAt - run.firstAt)) / done / 1000;
}

// ---------------------------------------------------------------- the store's shape (./finetune.ts)

type Busy = 'start' | 'merge' | 'export' | 'import' | null;

export interface FineTuneState extends Kept {
  /** The adapter strength the views use (0 = base model, 1 = adapted). */
  strength: number;
  /** The strength the engine has applied and the views were redrawn at (null while none applies). */
  appliedStrength: number | null;
  target: TargetText | null;
  targetLoading: boolean;
  targetError: string | null;
  loraBusy: Busy;
  loraError: string | null;
  loraNote: string | null;
  candidates: Candidates | null;
  /** "Write two continuations" or the rule's labelling in progress (pairs done of total). */
  writing: { done: number; total: number } | null;
  dpoError: string | null;
  dpoNote: string | null;
  importError: string | null;
  dpoRun: DpoRunView | null;
  compare: BeforeAfter | null;
  actions: {
    setLora: (patch: Partial<LoraForm>) => void;
    setDpo: (patch: Partial<DpoForm>) => void;
    /** Read the chosen target text (a built-in corpus is fetched from the app itself). */
    loadTarget: () => Promise<void>;
    useOwnText: (text: string, name: string) => Promise<void>;
    startLora: () => Promise<void>;
    setStrength: (strength: number) => void;
    merge: () => Promise<void>;
    exportAdapter: () => Promise<void>;
    /** PEFT's adapter folder zipped, its two files, or our single adapter file. */
    importAdapter: (files: File | File[]) => Promise<void>;
    writeContinuations: () => Promise<void>;
    pick: (which: 'a' | 'b' | null) => void;
    labelWithRule: () => Promise<void>;
    stopLabelling: () => void;
    editPair: (id: number, patch: Partial<PreferencePair>) => void;
    deletePair: (id: number) => void;
    clearPairs: () => void;
    exportPairs: () => void;
    importPairs: (file: File) => Promise<void>;
    startDpo: () => Promise<void>;
    stopDpo: () => Promise<void>;
  };
}
