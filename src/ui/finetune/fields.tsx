// Small form pieces shared by the fine-tuning sections.
import type { ComponentProps } from 'react';
import { NumberInput } from '../NumberInput';

/** A labelled number input that keeps what the person typed until it parses. */
export function NumField({ label, step, ...input }: { label: string } & Omit<ComponentProps<typeof NumberInput>, 'id'>) {
  return (
    <label className="field">
      <span>{label}</span>
      <NumberInput step={step ?? 'any'} {...input} />
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
