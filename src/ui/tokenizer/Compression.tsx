import { useEffect, useState } from 'react';
import type { BpeEncoder as OurBpe } from '../../tokenizer/encoder';
import { validationText, type Corpus } from '../stores/data';
import { BPE_NAMES, type BpeEncoder, type BpeName } from './openai';
import { codePointCount } from './spans';

type Row = { name: string; title: string; tokens: number | null };

const ids = new WeakMap<OurBpe, number>();
let nextId = 1;
/** A name per trained encoder, so a new one of the same size is counted again. */
function encoderName(enc: OurBpe): string {
  let id = ids.get(enc);
  if (id === undefined) ids.set(enc, (id = nextId++));
  return `bpe-${id}`;
}

/** Characters per token on the validation split (the last 10% of the corpus), for each tokenizer. */
export function Compression({ corpus, openai, ours }: { corpus: Corpus; openai: Partial<Record<BpeName, BpeEncoder>>; ours: OurBpe | null }) {
  const text = validationText(corpus);
  const chars = codePointCount(text);
  const [counts, setCounts] = useState<Record<string, number>>({});

  useEffect(() => setCounts({}), [corpus]);
  useEffect(() => {
    // One tokenizer per task, so the page stays responsive between them.
    const jobs: [string, () => number][] = [];
    for (const name of BPE_NAMES) {
      const enc = openai[name];
      if (enc) jobs.push([name, () => enc.encode(text).length]);
    }
    if (ours) jobs.push([encoderName(ours), () => ours.count(text)]);
    let live = true;
    const timers = jobs.map(([name, count], i) =>
      setTimeout(() => {
        if (!live) return;
        const n = count();
        setCounts((c) => (c[name] === n ? c : { ...c, [name]: n }));
      }, 30 * (i + 1)),
    );
    return () => {
      live = false;
      timers.forEach(clearTimeout);
    };
  }, [text, openai, ours]);

  const rows: Row[] = [
    { name: 'char', title: 'Our model: characters', tokens: chars },
    ...BPE_NAMES.map((n) => ({ name: n, title: n, tokens: counts[n] ?? null })),
    ...(ours ? [{ name: 'bpe', title: `Your BPE (${ours.vocabSize.toLocaleString('en-US')} tokens)`, tokens: counts[encoderName(ours)] ?? null }] : []),
  ];
  return (
    <table className="counts" data-testid="compression">
      <caption>
        Compression on the validation split of {corpus.name} ({chars.toLocaleString('en-US')} characters)
      </caption>
      <thead>
        <tr>
          <th>Tokenizer</th>
          <th>Tokens</th>
          <th>Characters per token</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.name} data-testid={`compression-${r.name}`} data-tokens={r.tokens ?? undefined} data-cpt={r.tokens ? (chars / r.tokens).toFixed(4) : undefined}>
            <td>{r.title}</td>
            <td>{r.tokens === null ? 'counting…' : r.tokens.toLocaleString('en-US')}</td>
            <td>{r.tokens ? (chars / r.tokens).toFixed(2) : '–'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
