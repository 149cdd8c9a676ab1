// The setup a page opens with when nothing asks for one. A link with a setup,
// a preset the person chose before (kept in localStorage), a run already open
// or a run saved in this browser all win; only a first visit gets the default
// for its adapter: the Tutorial GPT on Tiny Shakespeare on a real GPU, Tiny on
// a software renderer (SwiftShader and the like), where the Tutorial GPT would
// take hours. Once the setup is settled, the GPU pipelines its first step needs
// are compiled in the background (the engine's warmUp) while the person reads.
import { PRESETS, type PresetId } from '../model/config';
import { isPreset } from './runPreset';
import { presetById } from './url';

const STORAGE_KEY = 'gpt-playground.preset';

/** The default preset on an adapter, for a first visit. */
export function defaultPresetFor(software: boolean): PresetId {
  return software ? 'tiny' : 'tutorial';
}

/** Why a software renderer opens on Tiny, and how to get the Tutorial GPT on a real GPU: one sentence. */
export const SOFTWARE_DEFAULT_NOTE =
  'This browser computes on a software renderer, not a GPU, so the Tiny model is selected (it learns in about a minute here, where the 2.7M-parameter Tutorial GPT would take hours); on a computer with a real GPU, choose "Tutorial GPT" in the preset list of the Model & training tab.';

/** Whether a link's query string asks for a setup (a preset, a corpus or any model or training field). */
export function linkHasSetup(search: string): boolean {
  const params = new URLSearchParams(search);
  const own = new Set(['test', 'kernels']);
  for (const key of params.keys()) if (!own.has(key)) return true;
  return false;
}

/** The preset the person chose last in this browser, if any. */
export function rememberedPreset(): PresetId | null {
  try {
    const id = typeof localStorage === 'undefined' ? null : localStorage.getItem(STORAGE_KEY);
    return id && presetById(id) ? presetById(id)!.id : null;
  } catch {
    return null;
  }
}

/** Keep the person's choice of preset for their next visit. */
export function rememberPreset(id: PresetId): void {
  try {
    localStorage.setItem(STORAGE_KEY, id);
  } catch {
    // Storage blocked: the choice lasts as long as the page.
  }
}

export interface FirstVisit {
  /** The query string of the page when it opened. */
  search: string;
  software: boolean;
  /** A run is open in this page already. */
  runOpen: boolean;
  /** A run is saved in this browser. */
  savedRun: boolean;
  remembered: PresetId | null;
}

/** The preset a page should switch to, or null to keep the setup it opened with. */
export function firstVisitPreset(v: FirstVisit): PresetId | null {
  if (linkHasSetup(v.search) || v.runOpen || v.savedRun || v.remembered) return null;
  const preset = defaultPresetFor(v.software);
  return preset === PRESETS[0].id ? null : preset;
}

/** Whether a setup is exactly a preset's (the shapes worth compiling ahead). */
export function isPresetSetup(id: PresetId, model: Parameters<typeof isPreset>[1], train: Parameters<typeof isPreset>[2]): boolean {
  const preset = presetById(id);
  return preset !== undefined && isPreset(preset, model, train);
}
