// Text drawn on the viridis scale (logit-lens cells) and the app's text colours
// meet WCAG AA contrast (4.5:1), computed here from the colours as drawn.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { colour, textOn } from '../../src/ui/AttentionPanel';

function luminance(rgb: number[]): number {
  const lin = rgb.map((v) => {
    const c = v / 255;
    return c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
  });
  return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
}
const parse = (css: string): number[] => {
  const m = css.match(/^rgb\((\d+),(\d+),(\d+)\)$/) ?? css.match(/^#(..)(..)(..)$/);
  if (!m) throw new Error(`cannot read colour ${css}`);
  return m.slice(1, 4).map((x) => (css.startsWith('#') ? parseInt(x, 16) : Number(x)));
};
const contrast = (a: string, b: string) => {
  const [x, y] = [luminance(parse(a)), luminance(parse(b))].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
};
const expand = (hex: string) => (hex.length === 4 ? '#' + [...hex.slice(1)].map((c) => c + c).join('') : hex);

describe('colour contrast', () => {
  it('puts black or white text on every viridis shade with at least 4.5:1', () => {
    let worst = Infinity;
    for (let i = 0; i <= 1000; i++) {
      const x = i / 1000;
      const text = textOn(x) === '#000' ? '#000000' : '#ffffff';
      worst = Math.min(worst, contrast(colour(x), text));
    }
    console.log(`[unit contrast] worst viridis cell text contrast ${worst.toFixed(2)}:1`);
    expect(worst).toBeGreaterThanOrEqual(4.5);
  });

  it('keeps the palette readable in light and dark schemes', () => {
    const css = readFileSync(resolve(__dirname, '../../src/ui/app.css'), 'utf8');
    const block = (from: number) => {
      const vars: Record<string, string> = {};
      const end = css.indexOf('}', from);
      for (const m of css.slice(from, end).matchAll(/--([a-z-]+):\s*(#[0-9a-f]{3,6})/gi)) vars[m[1]] = expand(m[2]);
      return vars;
    };
    const light = block(css.indexOf(':root {'));
    const dark = { ...light, ...block(css.indexOf(':root {', css.indexOf('prefers-color-scheme: dark'))) };
    for (const [name, p] of Object.entries({ light, dark })) {
      const pairs: [string, string, string][] = [
        ['fg', p.fg, p.bg],
        ['muted on panel', p.muted, p.panel],
        ['muted on bg', p.muted, p.bg],
        ['ok on panel', p.ok, p.panel],
        ['bad on panel', p.bad, p.panel],
        ['bad on bg', p.bad, p.bg],
        ['accent on panel', p.accent, p.panel],
        ['text on accent', p['on-accent'], p.accent],
      ];
      for (const [what, fg, bg] of pairs) {
        const c = contrast(fg, bg);
        console.log(`[unit contrast] ${name}: ${what} ${c.toFixed(2)}:1`);
        expect(c, `${name}: ${what}`).toBeGreaterThanOrEqual(4.5);
      }
    }
  });
});
