// The trained (or imported) BPE tokenizer of each corpus, kept in IndexedDB so
// it survives a reload. One record per corpus, keyed by corpusKey().
import type { BpeModel } from '../../tokenizer/model';

export interface StoredBpe {
  key: string;
  corpusName: string;
  model: BpeModel;
  /** Why training stopped short, or what an import assumed. */
  note: string | null;
  source: 'trained' | 'imported';
  /** The size asked for when trained; the file name when imported. */
  vocabSize: number;
  fileName?: string;
  /** Wall time of the training (ms). */
  trainMs?: number;
  savedAt: number;
}

const DB_NAME = 'gpt-playground-bpe';
const STORE = 'tokenizers';

/** A corpus by name, length and content (FNV-1a over its UTF-16 units). */
export function corpusKey(name: string, text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return `${name}|${text.length}|${(h >>> 0).toString(16)}`;
}

let db: Promise<IDBDatabase> | null = null;

function open(): Promise<IDBDatabase> {
  if (!db) {
    db = new Promise<IDBDatabase>((resolve, reject) => {
      if (typeof indexedDB === 'undefined') {
        reject(new Error('IndexedDB is not available'));
        return;
      }
      const req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    db.catch(() => (db = null));
  }
  return db;
}

export async function readStoredBpe(key: string): Promise<StoredBpe | null> {
  const d = await open();
  return new Promise((resolve, reject) => {
    const req = d.transaction(STORE, 'readonly').objectStore(STORE).get(key);
    req.onsuccess = () => resolve((req.result as StoredBpe | undefined) ?? null);
    req.onerror = () => reject(req.error);
  });
}

/** Saves the record; a sentence when the browser refuses (the tokenizer stays usable until reload). */
export async function storeBpe(record: StoredBpe): Promise<string | null> {
  try {
    const d = await open();
    await new Promise<void>((resolve, reject) => {
      const tx = d.transaction(STORE, 'readwrite');
      tx.objectStore(STORE).put(record, record.key);
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
    return null;
  } catch (e) {
    return `The tokenizer could not be kept in this browser (${(e as Error)?.message ?? 'storage refused'}); it is lost on reload unless you export it.`;
  }
}
