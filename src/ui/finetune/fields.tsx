// Small form pieces shared by the fine-tuning sections.
import { useState } from 'react';

/** A labelled number input that keeps what the person typed until it parses. */
export function NumField({
  label,
  value,
  onValue,
  testId,
  step,
  min,
  max,
  invalid = false,
  disabled = false,
}: {
  label: string;
  value: number;
  onValue: (v: number) => void;
  testId: string;
  step?: number | 'any';
  min?: number;
  max?: number;
  invalid?: boolean;
  disabled?: boolean;
}) {
  const [draft, setDraft] = useState<string | null>(null);
  const text = draft ?? String(value);
  const bad = draft !== null && (text.trim() === '' || !Number.isFinite(Number(text)));
  return (
    <label className="field">
      <span>{label}</span>
      <input
        type="number"
        step={step ?? 'any'}
        min={min}
        max={max}
        value={text}
        disabled={disabled}
        aria-invalid={invalid || bad}
        onChange={(e) => {
          const t = e.target.value;
          setDraft(t);
          const x = Number(t);
          if (t.trim() !== '' && Number.isFinite(x)) onValue(x);
        }}
        onBlur={() => setDraft(null)}
        data-testid={testId}
      />
      {bad && <span className="field-problem">Enter a number.</span>}
    </label>
  );
}

/** A value with its number in data-value, for people and for tests. */
export function Readout({ label, value, digits = 4, testId }: { label: string; value: number | null | undefined; digits?: number; testId: string }) {
  const ok = value !== null && value !== undefined && Number.isFinite(value);
  return (
    <>
      <dt>{label}</dt>
      <dd data-testid={testId} data-value={ok ? value : undefined}>
        {ok ? value.toFixed(digits) : '–'}
      </dd>
    </>
  );
}
