// The adapter strength of the open LoRA run: one slider, one store value,
// shown in the Fine-tune, Sampling and Attention tabs.
import { useFineTune } from '../stores/finetune';
import { useTraining } from '../stores/training';

export function LoraStrength() {
  const lora = useTraining((s) => s.loaded?.fineTune?.kind === 'lora');
  const strength = useFineTune((s) => s.strength);
  const applied = useFineTune((s) => s.appliedStrength);
  const { setStrength } = useFineTune((s) => s.actions);
  if (!lora) return null;
  return (
    <div className="strength" data-testid="lora-strength-field">
      <label className="row">
        <span>Adapter strength</span>
        <input
          type="range"
          min={0}
          max={1}
          step={0.01}
          value={strength}
          onChange={(e) => setStrength(Number(e.target.value))}
          aria-valuetext={`${strength.toFixed(2)}: ${strength === 0 ? 'the base model' : strength === 1 ? 'the full fine-tune' : 'between the base and the fine-tune'}`}
          data-testid="lora-strength"
          data-applied={applied ?? undefined}
        />
        <output data-testid="lora-strength-value">{strength.toFixed(2)}</output>
      </label>
      <p className="tag">
        Scales every adapter's product (lora_alpha / r · strength): 0 is the base model, 1 the fine-tune. It applies to generation, attention, the next-token
        distribution and insights at once, not to training.
        {applied !== strength && ' Applying…'}
      </p>
    </div>
  );
}
