import { useState } from 'react';

/** A number input that keeps what the person typed until it parses, and says so while it does not. */
export function NumberInput({
  id,
  value,
  onValue,
  testId,
  step,
  min,
  max,
  invalid = false,
  disabled = false,
}: {
  id?: string;
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
    <>
      <input
        id={id}
        type="number"
        step={step}
        min={min}
        max={max}
        value={text}
        aria-invalid={invalid || bad}
        disabled={disabled}
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
    </>
  );
}
