import { lazy, Suspense, useEffect, useState } from 'react';
import { bitsPerChar, perplexity } from '../model/inspect';
import { AttentionPanel } from './AttentionPanel';
import { BenchmarkPanel } from './BenchmarkPanel';
import { CheckpointControls } from './CheckpointControls';
import { DatasetPanel } from './DatasetPanel';
import { FineTunePanel } from './FineTunePanel';
import { GpuStatus } from './GpuStatus';
import { InsightsPanel } from './InsightsPanel';
import { ModelConfigPanel } from './ModelPanel';
import { NoWebGpu } from './NoWebGpu';
import { QuickStart } from './QuickStart';
import { RunBanners } from './RunBanners';
import { RunsPanel } from './RunsPanel';
import { SamplingPanel } from './SamplingPanel';
import { LossChart, TrainingControls } from './TrainingPanel';
import { useGpu } from './gpuStore';
import { typing } from './keys';
import { handleCheckpointEvent, useCheckpoints } from './stores/checkpoints';
import { handleFineTuneEvent } from './stores/finetune';
import { compileAhead, settleStartSetup, setupWaitsForAdapter } from './stores/firstRun';
import { ToyAccuracyChart } from './training/ToyAccuracyChart';
import { useData } from './stores/data';
import { handleInsightsEvent } from './stores/insights';
import { handleInspectEvent, useInspect } from './stores/inspect';
import { currentQuery, useSetup } from './stores/setup';
import './stores/runScoped';
import { handleTabsEvent } from './stores/tabs';
import { handleTrainingEvent, useTraining } from './stores/training';

// The tokenizer view pulls in js-tiktoken; it loads when the tab is first opened.
const TokenizerPanel = lazy(() => import('./TokenizerPanel').then((m) => ({ default: m.TokenizerPanel })));

const TABS = [
  { id: 'data', label: 'Dataset' },
  { id: 'tokenizer', label: 'Tokenizer' },
  { id: 'train', label: 'Model & training' },
  { id: 'attention', label: 'Attention' },
  { id: 'sample', label: 'Sampling' },
  { id: 'insights', label: 'Insights' },
  { id: 'runs', label: 'Runs' },
  { id: 'finetune', label: 'Fine-tune' },
] as const;

type TabId = (typeof TABS)[number]['id'];

/** Keyboard access to the main actions; ignored while the person types in a field. */
function useShortcuts(setTab: (t: TabId) => void) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
      const training = useTraining.getState();
      if (e.key === ' ' && !(e.target instanceof HTMLButtonElement)) {
        e.preventDefault();
        void training.actions.toggle();
      } else if (e.key === 's' || e.key === 'S') {
        if (training.state !== 'running') void training.actions.command('step');
      } else if (e.key === 'r' || e.key === 'R') {
        if (training.state !== 'empty') void training.actions.command('reset');
      } else if (e.key === 'Escape') {
        useInspect.getState().actions.stopGenerate();
      } else if (e.key >= '1' && e.key <= String(TABS.length)) {
        setTab(TABS[Number(e.key) - 1].id);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [setTab]);
}

function Notices() {
  const notices = useSetup((s) => s.notices);
  const { dismissNotices } = useSetup((s) => s.actions);
  if (notices.length === 0) return null;
  return (
    <div className="notices" role="status" data-testid="url-notices">
      <ul>
        {notices.map((n, i) => (
          <li key={i}>{n}</li>
        ))}
      </ul>
      <button onClick={dismissNotices}>Dismiss</button>
    </div>
  );
}

function TrainingSummary() {
  const state = useTraining((s) => s.state);
  const step = useTraining((s) => s.step);
  const maxSteps = useTraining((s) => s.maxSteps);
  const loss = useTraining((s) => s.latest?.loss);
  const valLoss = useTraining((s) => s.lastEval?.valLoss);
  const dataCorpus = useData((s) => s.corpus?.name);
  const runCorpus = useTraining((s) => s.loaded?.corpusName);
  const corpus = runCorpus ?? dataCorpus;
  return (
    <section className="panel summary" aria-label="Run summary">
      <h2>Run</h2>
      <p>Corpus: {corpus ?? '–'}</p>
      <p>
        {state}
        {maxSteps > 0 && `, step ${step} / ${maxSteps}`}
        {loss !== undefined && `, loss ${loss.toFixed(3)} (perplexity ${perplexity(loss).toFixed(2)}, ${bitsPerChar(loss).toFixed(3)} bits/char)`}
      </p>
      {valLoss !== undefined && (
        <p data-testid="summary-val" data-val-loss={valLoss} data-perplexity={perplexity(valLoss)} data-bpc={bitsPerChar(valLoss)}>
          validation loss {valLoss.toFixed(3)}, perplexity {perplexity(valLoss).toFixed(2)}, {bitsPerChar(valLoss).toFixed(3)} bits/char
        </p>
      )}
      <p className="tag">
        <kbd>Space</kbd> start/pause · <kbd>S</kbd> step · <kbd>R</kbd> reset · <kbd>1</kbd>–<kbd>{TABS.length}</kbd> panels
      </p>
    </section>
  );
}

export function App() {
  const phase = useGpu((s) => s.phase);
  const failure = useGpu((s) => s.failure);
  const engine = useGpu((s) => s.engine);
  const { start } = useGpu((s) => s.actions);
  const [tab, setTab] = useState<TabId>('data');
  const [copied, setCopied] = useState(false);
  useShortcuts(setTab);

  useEffect(() => {
    void start();
  }, [start]);

  useEffect(() => {
    if (!engine) return;
    return engine.on((event) => {
      handleTrainingEvent(event);
      handleInspectEvent(event);
      handleCheckpointEvent(event);
      handleInsightsEvent(event);
      handleFineTuneEvent(event);
      handleTabsEvent(event);
    });
  }, [engine]);

  // Once the GPU is ready, offer the run saved in this browser, if any.
  useEffect(() => {
    if (phase === 'ready') void useCheckpoints.getState().actions.checkSaved();
  }, [phase]);

  // A link's setup (or a preset chosen on an earlier visit) reads its corpus at once; a first visit
  // learns the adapter first, since a software renderer starts on another preset and corpus.
  useEffect(() => {
    if (setupWaitsForAdapter()) return;
    const { corpus, loading } = useData.getState();
    if (!corpus && !loading) void useData.getState().actions.loadBuiltin(useSetup.getState().corpus);
  }, []);
  const info = useGpu((s) => s.info);
  useEffect(() => {
    if (phase === 'ready' && engine && info) void settleStartSetup(engine, info.software);
  }, [phase, engine, info]);
  useEffect(() => compileAhead(), []);

  if (phase === 'unavailable' && failure) return <NoWebGpu reason={failure.reason} message={failure.message} />;

  // The tab list as WAI-ARIA's tabs pattern: one tab stop, arrows, Home and End move between tabs.
  const onTabKey = (e: React.KeyboardEvent<HTMLDivElement>) => {
    const i = TABS.findIndex((t) => t.id === tab);
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: TABS.length - 1 }[e.key];
    if (next === undefined) return;
    e.preventDefault();
    const id = TABS[(next + TABS.length) % TABS.length].id;
    setTab(id);
    document.getElementById(`tab-${id}`)?.focus();
  };

  const copyLink = async () => {
    const url = `${location.origin}${location.pathname}${currentQuery()}`;
    try {
      await navigator.clipboard.writeText(url);
      setCopied(true);
      setTimeout(() => setCopied(false), 1500);
    } catch {
      // The address bar already holds the same link.
    }
  };

  return (
    <div className="app">
      <header className="top">
        <div>
          <h1>GPT Playground</h1>
          <p className="subtitle">Train a character-level GPT on your own GPU and watch it learn.</p>
        </div>
        <button onClick={() => void copyLink()} title="The link reproduces this setup">
          {copied ? 'Link copied' : 'Copy link to this setup'}
        </button>
      </header>
      <nav aria-label="Panels">
        <div className="tabs" role="tablist" aria-label="Panels" onKeyDown={onTabKey}>
          {TABS.map((t, i) => (
            <button
              key={t.id}
              id={`tab-${t.id}`}
              role="tab"
              aria-selected={tab === t.id}
              aria-controls="tabpanel"
              tabIndex={tab === t.id ? 0 : -1}
              className={tab === t.id ? 'tab active' : 'tab'}
              onClick={() => setTab(t.id)}
              data-testid={`tab-${t.id}`}
            >
              {t.label} <kbd aria-hidden="true">{i + 1}</kbd>
            </button>
          ))}
        </div>
      </nav>
      <div className="layout">
        <main>
          <Notices />
          <RunBanners />
          <div role="tabpanel" id="tabpanel" aria-labelledby={`tab-${tab}`}>
            {tab === 'data' && (
              <>
                <QuickStart tabs={TABS} onNavigate={(id) => setTab(id as TabId)} />
                <DatasetPanel />
              </>
            )}
            {tab === 'tokenizer' && (
              <Suspense fallback={<p className="panel">Loading the tokenizers…</p>}>
                <TokenizerPanel />
              </Suspense>
            )}
            {tab === 'train' && (
              <div className="train-layout">
                <div>
                  <ModelConfigPanel />
                  <BenchmarkPanel />
                </div>
                <div>
                  <TrainingControls />
                  <LossChart />
                  <ToyAccuracyChart />
                  <CheckpointControls />
                </div>
              </div>
            )}
            {tab === 'attention' && <AttentionPanel />}
            {tab === 'sample' && <SamplingPanel />}
            {tab === 'insights' && <InsightsPanel />}
            {tab === 'runs' && <RunsPanel onNavigate={setTab} />}
            {tab === 'finetune' && <FineTunePanel />}
          </div>
        </main>
        <aside>
          <TrainingSummary />
          <GpuStatus />
        </aside>
      </div>
    </div>
  );
}
