// The files picked to import an adapter: PEFT's adapter folder zipped, its two
// files (adapter_model.safetensors with adapter_config.json), or our single
// adapter safetensors file.

export type AdapterPick = { bytes: ArrayBuffer; fileName: string; configJson?: string } | { problem: string };

/** The adapter's bytes (and its adapter_config.json when picked beside it), or a sentence. */
export async function readAdapterPick(files: File[]): Promise<AdapterPick> {
  const json = files.length > 1 ? files.find((f) => /\.json$/i.test(f.name)) : undefined;
  const rest = files.filter((f) => f !== json);
  if (rest.length !== 1) return { problem: 'Pick one adapter file (a .zip or a .safetensors), or adapter_model.safetensors together with its adapter_config.json.' };
  const file = rest[0]!;
  try {
    const bytes = await file.arrayBuffer();
    return { bytes, fileName: file.name, ...(json ? { configJson: await json.text() } : {}) };
  } catch (e) {
    return { problem: `${file.name} could not be read: ${(e as Error).message}` };
  }
}
