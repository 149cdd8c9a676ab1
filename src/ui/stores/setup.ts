// What the user chose: preset, built-in corpus, model and training config,
// sampling settings. Read from the link at start and written back to it, so a
// link reproduces the setup.
import { create } from 'zustand';
import type { SamplingSettings } from '../../engine/protocol';
import type { CorpusId, ModelShape, Preset, TrainConfig } from '../../model/config';
import { parseSetup, presetById, serializeSetup, type Setup } from '../url';
import { linkHasSetup, rememberedPreset } from '../firstVisit';

interface SetupState extends Setup {
  /** Sentences about values in the link that were not used. */
  notices: string[];
  actions: {
    applyPreset: (id: Preset['id']) => void;
    setModel: (patch: Partial<ModelShape>) => void;
    setTrain: (patch: Partial<TrainConfig>) => void;
    setSampling: (patch: Partial<SamplingSettings>) => void;
    setCorpus: (id: CorpusId) => void;
    dismissNotices: () => void;
  };
}

// A bare link opens on the preset the person chose last in this browser, if any.
const search = typeof location === 'undefined' ? '' : location.search;
const remembered = linkHasSetup(search) ? null : rememberedPreset();
const initial = parseSetup(remembered ? `?preset=${remembered}` : search);

export const useSetup = create<SetupState>((set) => ({
  ...initial,
  actions: {
    applyPreset(id) {
      const preset = presetById(id);
      if (!preset) return;
      set({ preset: preset.id, corpus: preset.corpus, model: { ...preset.model }, train: { ...preset.train } });
    },
    setModel: (patch) => set((s) => ({ model: { ...s.model, ...patch } })),
    setTrain: (patch) => set((s) => ({ train: { ...s.train, ...patch } })),
    setSampling: (patch) => set((s) => ({ sampling: { ...s.sampling, ...patch } })),
    setCorpus: (corpus) => set({ corpus }),
    dismissNotices: () => set({ notices: [] }),
  },
}));

/** The current setup as a link's query string. */
export function currentQuery(): string {
  const { preset, corpus, model, train, sampling } = useSetup.getState();
  return serializeSetup({ preset, corpus, model, train, sampling });
}

/** The kernel switch (`kernels=gpu|cpu`) is not part of the setup but stays in the link across edits and reloads. */
function kernelSwitch(): string {
  const kernels = new URLSearchParams(location.search).get('kernels');
  return kernels === 'gpu' || kernels === 'cpu' ? `&kernels=${kernels}` : '';
}

if (typeof history !== 'undefined') {
  let last = '';
  useSetup.subscribe(() => {
    const query = currentQuery() + kernelSwitch();
    if (query === last) return;
    last = query;
    history.replaceState(null, '', query);
  });
}
