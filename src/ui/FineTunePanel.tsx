// The Fine-tune tab: LoRA adapters on a target text, and DPO on preference pairs.
import { DpoSection } from './finetune/DpoSection';
import { LoraSection } from './finetune/LoraSection';

export function FineTunePanel() {
  return (
    <div className="finetune" data-testid="finetune-panel">
      <LoraSection />
      <DpoSection />
    </div>
  );
}
