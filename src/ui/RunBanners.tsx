// Messages about the run that matter wherever the person is in the app: a run
// saved in this browser to resume, a NaN that paused training, a lost GPU.
import { useEffect, useState } from 'react';
import { useGpu } from './gpuStore';
import { OtherTabBanner } from './OtherTabBanner';
import { describeSavedRun, useCheckpoints } from './stores/checkpoints';
import { useTraining } from './stores/training';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** "Resume training from step N of <corpus> — saved <time>", with Resume / Discard. */
function SavedRunOffer() {
  const offer = useCheckpoints((s) => s.offer);
  const resuming = useCheckpoints((s) => s.resuming);
  const error = useCheckpoints((s) => s.offerError);
  const { resume, discard } = useCheckpoints((s) => s.actions);
  // Keeps "saved 3 minutes ago" current.
  const [, tick] = useState(0);
  useEffect(() => {
    if (!offer) return;
    const timer = setInterval(() => tick((n) => n + 1), 30_000);
    return () => clearInterval(timer);
  }, [offer]);
  if (!offer) return null;
  return (
    <section className="banner offer" aria-label="Saved run" data-testid="saved-run-offer" data-step={offer.step}>
      <p>
        <strong data-testid="saved-run-text">{describeSavedRun(offer)}</strong>
        <span className="tag">
          {' '}
          ({plural(offer.model.nLayer, 'layer')}, {offer.model.nEmbd} wide, context {offer.model.blockSize}, {plural(offer.lossHistory.length, 'loss point')})
        </span>
      </p>
      <div className="row">
        <button className="primary" onClick={() => void resume()} disabled={resuming} data-testid="saved-run-resume">
          {resuming ? 'Opening…' : offer.step >= offer.train.maxSteps ? 'Open' : 'Resume'}
        </button>
        <button onClick={() => void discard()} disabled={resuming} data-testid="saved-run-discard">
          Discard
        </button>
      </div>
      {error && (
        <p role="alert" className="bad" data-testid="saved-run-error">
          {error}
        </p>
      )}
    </section>
  );
}

/** The engine's sentence about a non-finite loss; training is paused until started again. */
function NonFiniteAlert() {
  const message = useTraining((s) => s.nonFinite);
  if (!message) return null;
  return (
    <section className="banner alert" role="alert" data-testid="nonfinite-alert">
      <strong>Training stopped on a NaN or infinity.</strong> {message}
    </section>
  );
}

/** The GPU device was lost: say so, and offer to carry on from the last checkpoint. */
function DeviceLostAlert() {
  const lost = useGpu((s) => s.lost);
  const hasRun = useTraining((s) => s.loaded !== null);
  const busy = useTraining((s) => s.busy);
  const { recover } = useTraining((s) => s.actions);
  const [recovering, setRecovering] = useState(false);
  if (!lost) return null;
  const onRecover = async () => {
    setRecovering(true);
    try {
      await recover();
    } finally {
      setRecovering(false);
    }
  };
  return (
    <section className="banner alert" role="alert" data-testid="device-lost-alert">
      <p>
        <strong>{lost}</strong>{' '}
        {hasRun ? 'Recover acquires the GPU again and continues training from the last checkpoint.' : 'Recover acquires the GPU again.'}
      </p>
      <button className="primary" onClick={() => void onRecover()} disabled={recovering || busy} data-testid="device-recover">
        {recovering ? 'Recovering…' : 'Recover'}
      </button>
    </section>
  );
}

export function RunBanners() {
  return (
    <>
      <DeviceLostAlert />
      <NonFiniteAlert />
      <OtherTabBanner />
      <SavedRunOffer />
    </>
  );
}
