// What every recharts chart in the app shares, so that all of them read well
// in both colour schemes: legend and tooltip text in the page's text colour
// (the line colours are for lines, not always dark or light enough for text),
// and a tooltip that moves without animation when the person asks for less motion
// (recharts' 'auto' follows prefers-reduced-motion).
import { useSyncExternalStore } from 'react';

export const TOOLTIP_STYLE = {
  contentStyle: { background: 'var(--panel)', border: '1px solid var(--border)', color: 'var(--fg)' },
  itemStyle: { color: 'var(--fg)' },
  labelStyle: { color: 'var(--fg)' },
  isAnimationActive: 'auto' as const,
};

/** Legend entries keep their coloured marker; the text is in the page's text colour. */
export function legendText(value: unknown) {
  return <span style={{ color: 'var(--fg)' }}>{String(value)}</span>;
}

const REDUCED = '(prefers-reduced-motion: reduce)';

function subscribe(onChange: () => void): () => void {
  const query = window.matchMedia(REDUCED);
  query.addEventListener('change', onChange);
  return () => query.removeEventListener('change', onChange);
}

/** True while the person's system asks for reduced motion. */
export function useReducedMotion(): boolean {
  return useSyncExternalStore(subscribe, () => window.matchMedia(REDUCED).matches, () => false);
}
