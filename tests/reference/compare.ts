// Element-wise comparison |got - want| <= atol + rtol * |want|, with a report.

export interface Comparison {
  ok: boolean;
  maxAbs: number;
  maxRel: number;
  worst: number;
  failures: number;
  nonFinite: number;
}

export function compare(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number): Comparison {
  if (got.length !== want.length) throw new Error(`length ${got.length} != ${want.length}`);
  let maxAbs = 0;
  let maxRel = 0;
  let worst = -1;
  let failures = 0;
  let nonFinite = 0;
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    if (!Number.isFinite(g)) {
      nonFinite++;
      failures++;
      if (worst < 0) worst = i;
      continue;
    }
    const d = Math.abs(g - w);
    if (d > maxAbs) maxAbs = d;
    const rel = d / Math.max(Math.abs(w), 1e-30);
    if (d > atol && rel > maxRel) maxRel = rel;
    if (d > atol + rtol * Math.abs(w)) {
      failures++;
      if (worst < 0 || d > Math.abs(got[worst] - want[worst])) worst = i;
    }
  }
  return { ok: failures === 0, maxAbs, maxRel, worst, failures, nonFinite };
}

export function report(c: Comparison, label: string): string {
  return `${label}: maxdiff ${c.maxAbs.toExponential(2)}, failures ${c.failures}${c.nonFinite ? `, non-finite ${c.nonFinite}` : ''}`;
}
