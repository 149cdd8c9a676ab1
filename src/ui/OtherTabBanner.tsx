// The open run is another tab's: say so, follow it live, and offer a copy to
// train here. Once that tab lets the run go (closed, crashed, or opened
// another run), Start carries on here from its last checkpoint.
import { useEffect } from 'react';
import { useRuns } from './stores/runs';
import { useTabs } from './stores/tabs';
import { useTraining } from './stores/training';

/** How often a read-only tab looks whether the owning tab has let the run go (its lock is gone without a word). */
const POLL_MS = 2000;

export function OtherTabBanner() {
  const loaded = useTraining((s) => s.loaded);
  const elsewhere = useRuns((s) => (loaded ? s.elsewhere.includes(loaded.runId) : false));
  const { otherStep, duplicating, error } = useTabs();
  const { duplicateHere } = useTabs((s) => s.actions);
  const readOnly = !!loaded?.readOnly;

  useEffect(() => {
    if (!readOnly) return;
    void useRuns.getState().actions.refresh();
    const timer = setInterval(() => void useRuns.getState().actions.refresh(), POLL_MS);
    return () => clearInterval(timer);
  }, [readOnly]);

  if (!loaded || !readOnly) return null;
  return (
    <section className="banner offer" aria-label="Run open in another tab" data-testid="other-tab-banner" data-elsewhere={elsewhere} data-other-step={otherStep ?? undefined}>
      {elsewhere ? (
        <p data-testid="other-tab-text">
          <strong>Another tab of this browser has “{loaded.runName}” open and is the one that trains it.</strong> This tab shows it read-only
          {otherStep !== null ? `; the other tab saved it at step ${otherStep}` : ''}. Duplicate it to train a copy here, or close the other tab to train it here.
        </p>
      ) : (
        <p data-testid="other-tab-text">
          <strong>The other tab let “{loaded.runName}” go.</strong> Start carries on here from its last checkpoint.
        </p>
      )}
      <div className="row">
        <button className="primary" onClick={() => void duplicateHere()} disabled={duplicating} data-testid="duplicate-here">
          {duplicating ? 'Duplicating…' : 'Duplicate to train here'}
        </button>
      </div>
      {error && (
        <p role="alert" className="bad" data-testid="other-tab-error">
          {error}
        </p>
      )}
    </section>
  );
}
