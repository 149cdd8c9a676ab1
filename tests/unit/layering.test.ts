// Imports point down: ui -> engine -> model -> tokenizer -> kernels -> gpu (the
// tokenizer is pure data code: it imports nothing above it, and no DOM). Every import of
// every source file is read and checked against the layer it lives in.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(__dirname, '../../src');
const ORDER = ['gpu', 'kernels', 'tokenizer', 'model', 'engine', 'ui'];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : /\.tsx?$/.test(name) ? [path] : [];
  });
}

/** The top-level folder under src/ a path belongs to. */
const layerOf = (path: string) => relative(SRC, path).split(/[\\/]/)[0]!;

describe('layering', () => {
  it('no file imports from a layer above its own', () => {
    const upward: string[] = [];
    let checked = 0;
    for (const file of files(SRC)) {
      const own = ORDER.indexOf(layerOf(file));
      if (own < 0) continue;
      for (const m of readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)[^'"]*from\s+'(\.[^']+)'/gm)) {
        const target = resolve(file, '..', m[1]!);
        if (!target.startsWith(SRC)) continue;
        checked++;
        const layer = ORDER.indexOf(layerOf(target));
        if (layer > own) upward.push(`${relative(SRC, file)} imports ${m[1]}`);
      }
    }
    expect(checked).toBeGreaterThan(100);
    expect(upward).toEqual([]);
  });

  it('the tokenizer touches no DOM', () => {
    const dom: string[] = [];
    for (const file of files(join(SRC, 'tokenizer'))) {
      const code = readFileSync(file, 'utf8').replace(/\/\/.*$/gm, '');
      for (const name of ['document', 'window', 'self', 'postMessage', 'localStorage', 'indexedDB']) {
        if (new RegExp(`\\b${name}\\b`).test(code)) dom.push(`${relative(SRC, file)} uses ${name}`);
      }
    }
    expect(files(join(SRC, 'tokenizer')).length).toBeGreaterThan(3);
    expect(dom).toEqual([]);
  });
});
