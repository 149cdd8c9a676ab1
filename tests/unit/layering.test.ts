// Imports point down: gpu -> kernels -> tokenizer -> model -> data -> engine ->
// ui -> the entry point (src/main.tsx). The tokenizer is pure data code: no DOM. Every import of every source file is read; each
// folder of src/ must have a layer, no file imports from a layer above its
// own, and no chain of imports (type-only ones included) comes back to where
// it started.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(__dirname, '../../src');
/** Lowest first. A file directly under src/ (the entry point) is the top layer. */
export const LAYERS = ['gpu', 'kernels', 'tokenizer', 'model', 'data', 'engine', 'ui', '.'];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : /\.tsx?$/.test(name) ? [path] : [];
  });
}

/** The top-level folder under src/ a path belongs to ('.' for files directly under src/). */
const layerOf = (path: string) => {
  const parts = relative(SRC, path).split(/[\\/]/);
  return parts.length === 1 ? '.' : parts[0]!;
};

/** The source file an import specifier names, or null for an asset (`?raw`, `?url`, `.css`) or a path outside src/ (shaders). */
function resolveImport(from: string, spec: string): string | null {
  if (spec.includes('?') || spec.endsWith('.css')) return null;
  const base = resolve(from, '..', spec);
  if (!base.startsWith(SRC)) return null;
  for (const candidate of [base, `${base}.ts`, `${base}.tsx`, join(base, 'index.ts')]) {
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // try the next form
    }
  }
  throw new Error(`${relative(SRC, from)} imports ${spec}, which is no source file`);
}

/**
 * Every relative import of every source file, re-exports included; with
 * `runtime`, only those that load a module when the program runs (type-only
 * imports are erased by the compiler, so they cannot form a loading cycle).
 */
function importGraph(runtime = false): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files(SRC)) {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(/^\s*(?:import|export)\b([^;]*?)from\s+'(\.[^']+)'/gms), ...text.matchAll(/^\s*import()\s+'(\.[^']+)'/gm)]
      .filter((m) => !runtime || !/^\s*type\b/.test(m[1]!))
      .map((m) => resolveImport(file, m[2]!))
      .filter((t): t is string => t !== null);
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** The cycles of a directed graph, one per strongly connected component of two or more files (or a file importing itself). */
export function findCycles(graph: Map<string, string[]>): string[][] {
  // Tarjan's algorithm, iterative.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let next = 0;
  for (const root of graph.keys()) {
    if (index.has(root)) continue;
    const work: [string, number][] = [[root, 0]];
    index.set(root, next);
    low.set(root, next++);
    stack.push(root);
    onStack.add(root);
    while (work.length) {
      const frame = work[work.length - 1]!;
      const [node, i] = frame;
      const edges = graph.get(node) ?? [];
      if (i < edges.length) {
        frame[1]++;
        const to = edges[i]!;
        if (!index.has(to)) {
          index.set(to, next);
          low.set(to, next++);
          stack.push(to);
          onStack.add(to);
          work.push([to, 0]);
        } else if (onStack.has(to)) {
          low.set(node, Math.min(low.get(node)!, index.get(to)!));
        }
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work[work.length - 1]![0];
        low.set(parent, Math.min(low.get(parent)!, low.get(node)!));
      }
      if (low.get(node) === index.get(node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== node);
        if (component.length > 1 || (graph.get(node) ?? []).includes(node)) components.push(component.reverse());
      }
    }
  }
  return components;
}

describe('layering', () => {
  const graph = importGraph();

  it('every folder of src/ has a layer', () => {
    const folders = readdirSync(SRC).filter((n) => statSync(join(SRC, n)).isDirectory());
    expect(folders.filter((f) => !LAYERS.includes(f))).toEqual([]);
  });

  it('no file imports from a layer above its own', () => {
    const upward: string[] = [];
    let checked = 0;
    for (const [file, targets] of graph) {
      const own = LAYERS.indexOf(layerOf(file));
      for (const target of targets) {
        checked++;
        if (LAYERS.indexOf(layerOf(target)) > own) upward.push(`${relative(SRC, file)} imports ${relative(SRC, target)}`);
      }
    }
    expect(checked).toBeGreaterThan(100);
    expect(upward).toEqual([]);
  });

  it('no import cycle', () => {
    const cycles = findCycles(importGraph(true)).map((c) => c.map((f) => relative(SRC, f)).join(' -> '));
    expect(cycles).toEqual([]);
  });

  it('the cycle finder finds a cycle and a self-import, and passes a tree', () => {
    const g = new Map([['a', ['b']], ['b', ['c']], ['c', ['a', 'd']], ['d', []], ['e', ['e']]]);
    expect(findCycles(g).map((c) => c.sort().join(''))).toEqual(['abc', 'e']);
    expect(findCycles(new Map([['a', ['b', 'c']], ['b', ['c']], ['c', []]]))).toEqual([]);
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
