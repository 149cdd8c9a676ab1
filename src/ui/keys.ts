// Keyboard shortcuts stay out of the way while the person types in a field.

/** True when a key press belongs to a text field, not to the page's shortcuts. */
export function typing(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  if (target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
  if (target instanceof HTMLInputElement) return !['checkbox', 'radio', 'button', 'range', 'file'].includes(target.type);
  return false;
}
