import { useEffect } from 'react';
import { GpuStatus } from './GpuStatus';
import { NoWebGpu } from './NoWebGpu';
import { useGpu } from './gpuStore';

export function App() {
  const phase = useGpu((s) => s.phase);
  const failure = useGpu((s) => s.failure);
  const { start } = useGpu((s) => s.actions);

  useEffect(() => {
    void start();
  }, [start]);

  if (phase === 'unavailable' && failure) return <NoWebGpu reason={failure.reason} message={failure.message} />;

  return (
    <div className="app">
      <header>
        <h1>GPT Playground</h1>
        <p className="subtitle">Train a character-level GPT on your own GPU and watch it learn.</p>
      </header>
      <main>
        <GpuStatus />
      </main>
    </div>
  );
}
