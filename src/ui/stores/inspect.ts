// What the model shows about itself: attention maps and generated text.
import { create } from 'zustand';
import type { EngineEvent, TokenDistribution } from '../../engine/protocol';
import { useGpu } from '../gpuStore';
import { useData, validationText } from './data';
import { useSetup } from './setup';

export interface AttentionMaps {
  step: number;
  tokens: string[];
  nLayer: number;
  nHead: number;
  T: number;
  /** (nLayer, nHead, T, T), row = query, column = key. */
  probs: Float32Array;
}

export interface GeneratedChar {
  char: string;
  id: number;
  prob: number;
}

interface InspectState {
  attention: AttentionMaps | null;
  attentionPrompt: string | null;
  attentionError: string | null;
  layer: number;
  head: number;
  generation: {
    requestId: number;
    prompt: string;
    chars: GeneratedChar[];
    running: boolean;
    dist: TokenDistribution | null;
    lastId: number | null;
    error: string | null;
    /** Characters asked for, and when the request started (performance.now()), for the progress line. */
    max: number;
    startedAt: number;
  };
  /** A one-token request that redraws the shown distribution on the current weights (adapter strength). */
  distProbe: number | null;
  actions: {
    setAttentionPrompt: (prompt: string) => void;
    pick: (layer: number, head: number) => void;
    refreshAttention: () => Promise<void>;
    generate: (prompt: string, maxNewTokens: number) => Promise<void>;
    stopGenerate: () => void;
    /**
     * The distribution the last character was drawn from, computed again on
     * the model as it is now (after the adapter strength changed); the text
     * shown stays as it was.
     */
    refreshDistribution: () => Promise<void>;
  };
}

let nextRequestId = 1;

/** A generation request id no other request of the page uses. */
export function newRequestId(): number {
  return nextRequestId++;
}

/** The first characters of the validation text (at most the context, at most 48). */
export function defaultAttentionPrompt(): string | null {
  const corpus = useData.getState().corpus;
  if (!corpus) return null;
  return Array.from(validationText(corpus)).slice(0, Math.min(useSetup.getState().model.blockSize, 48)).join('') || null;
}

export const useInspect = create<InspectState>((set, get) => ({
  attention: null,
  attentionPrompt: null,
  attentionError: null,
  layer: 0,
  head: 0,
  generation: { requestId: 0, prompt: '', chars: [], running: false, dist: null, lastId: null, error: null, max: 0, startedAt: 0 },
  distProbe: null,
  actions: {
    setAttentionPrompt: (attentionPrompt) => set({ attentionPrompt }),
    pick: (layer, head) => set({ layer, head }),
    async refreshAttention() {
      const engine = useGpu.getState().engine;
      const prompt = get().attentionPrompt ?? defaultAttentionPrompt();
      if (get().attentionPrompt === null && prompt) set({ attentionPrompt: prompt });
      if (!engine || !prompt) return;
      const reply = await engine.request({ kind: 'attention', prompt });
      if (reply.kind === 'attention') {
        const { layer, head } = get();
        set({
          attention: reply,
          attentionError: null,
          layer: Math.min(layer, reply.nLayer - 1),
          head: Math.min(head, reply.nHead - 1),
        });
      } else if (reply.kind === 'error') set({ attentionError: reply.message });
      else if (reply.kind === 'invalid') set({ attentionError: reply.problems.join(' ') });
    },
    async generate(prompt, maxNewTokens) {
      const engine = useGpu.getState().engine;
      if (!engine || get().generation.running) return;
      const requestId = nextRequestId++;
      set({ generation: { requestId, prompt, chars: [], running: true, dist: null, lastId: null, error: null, max: maxNewTokens, startedAt: performance.now() } });
      const reply = await engine.request({ kind: 'generate', requestId, prompt, maxNewTokens, sampling: useSetup.getState().sampling });
      const g = get().generation;
      if (g.requestId !== requestId) return;
      if (reply.kind === 'generated') set({ generation: { ...g, running: false } });
      else {
        const error = reply.kind === 'error' ? reply.message : reply.kind === 'invalid' ? reply.problems.join(' ') : `Unexpected reply '${reply.kind}'.`;
        set({ generation: { ...g, running: false, error } });
      }
    },
    stopGenerate() {
      useGpu.getState().engine?.request({ kind: 'stopGenerate' });
    },
    async refreshDistribution() {
      const engine = useGpu.getState().engine;
      const g = get().generation;
      if (!engine || g.running || !g.dist || g.chars.length === 0) return;
      // The context the last character was drawn after; an empty prompt started after a newline.
      const context = (g.prompt || '\n') + g.chars.slice(0, -1).map((c) => c.char).join('');
      const requestId = nextRequestId++;
      set({ distProbe: requestId });
      await engine.request({ kind: 'generate', requestId, prompt: context, maxNewTokens: 1, sampling: useSetup.getState().sampling });
      if (get().distProbe === requestId) set({ distProbe: null });
    },
  },
}));

/** Token events stream into the current generation; eval events refresh the attention maps. */
export function handleInspectEvent(event: EngineEvent): void {
  if (event.kind === 'token') {
    const { generation: g, distProbe } = useInspect.getState();
    if (event.requestId === distProbe) {
      if (!g.running) useInspect.setState({ generation: { ...g, dist: event.dist } });
      return;
    }
    if (event.requestId !== g.requestId) return;
    useInspect.setState({
      generation: { ...g, chars: [...g.chars, { char: event.char, id: event.id, prob: event.prob }], dist: event.dist, lastId: event.id },
    });
  } else if (event.kind === 'eval') {
    void useInspect.getState().actions.refreshAttention();
  } else if (event.kind === 'history' && event.lossHistory.length === 0) {
    // A new or reset run: the maps of the model before it no longer apply.
    useInspect.setState({ attention: null, attentionError: null });
  }
}

// A slider moved while text streams applies to the very next token.
useSetup.subscribe((s, prev) => {
  if (s.sampling === prev.sampling || !useInspect.getState().generation.running) return;
  void useGpu.getState().engine?.request({ kind: 'setSampling', sampling: s.sampling });
});
