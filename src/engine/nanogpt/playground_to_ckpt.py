"""
Turn a GPT Playground export (.checkpoint.safetensors with AdamW moments, or
.nanogpt.safetensors with weights only) into the ckpt.pt that nanoGPT's train.py
reads with init_from='resume', so training continues where the browser stopped.

    python playground_to_ckpt.py RUN.checkpoint.safetensors out-DIR

Run it from nanoGPT's directory (it builds the model and optimizer with nanoGPT's
model.py, so the parameter groups are exactly train.py's). Plain PyTorch: the
safetensors file is read by hand.
"""
import json
import os
import struct
import sys

import torch

from model import GPT, GPTConfig

DTYPES = {'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16, 'F64': torch.float64}


def read_safetensors(path):
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop('__metadata__', {})
    body = memoryview(raw)[8 + n:]
    tensors = {}
    for name, info in header.items():
        start, end = info['data_offsets']
        t = torch.frombuffer(bytearray(body[start:end]), dtype=DTYPES[info['dtype']])
        tensors[name] = t.reshape(info['shape']).to(torch.float32)
    return tensors, meta


def main(src, out_dir):
    tensors, meta = read_safetensors(src)
    config = json.loads(meta['config'])
    arch = json.loads(meta.get('playground_architecture', '{}'))
    if arch.get('activation', 'gelu') != 'gelu' or not arch.get('tie_weights', True):
        sys.exit("This model uses ReLU or a separate lm_head; nanoGPT's model.py computes GELU with tied embeddings only.")
    model_args = {k: config[k] for k in ('n_layer', 'n_head', 'n_embd', 'block_size', 'bias', 'vocab_size', 'dropout')}
    model = GPT(GPTConfig(**model_args))

    weights = {k: v for k, v in tensors.items() if not k.startswith('optimizer.')}
    missing, unexpected = model.load_state_dict(weights, strict=False)
    missing = [k for k in missing if not k.endswith('.attn.bias')]  # the causal-mask buffer of non-flash attention
    assert not missing and not unexpected, f'missing {missing}, unexpected {unexpected}'

    step = int(meta.get('step', '0'))
    optimizer = model.configure_optimizers(0.0, 1e-3, (0.9, 0.99), 'cpu')
    if any(k.startswith('optimizer.m.') for k in tensors):
        # Our AdamW moments, by nanoGPT's parameter names, and the step that bias-corrects them.
        names = {id(p): n for n, p in model.named_parameters()}
        for group in optimizer.param_groups:
            for p in group['params']:
                name = names[id(p)]
                optimizer.state[p] = {
                    'step': torch.tensor(float(step)),
                    'exp_avg': tensors['optimizer.m.' + name].reshape(p.shape).clone(),
                    'exp_avg_sq': tensors['optimizer.v.' + name].reshape(p.shape).clone(),
                }
        print(f'AdamW moments restored at step {step}')
    else:
        print('no optimizer state in the file: AdamW starts from zero moments')

    os.makedirs(out_dir, exist_ok=True)
    ckpt = {
        'model': model.state_dict(),
        'optimizer': optimizer.state_dict(),
        'model_args': model_args,
        'iter_num': step,
        'best_val_loss': 1e9,
        'config': {'playground_vocab': json.loads(meta['vocab'])},
    }
    torch.save(ckpt, os.path.join(out_dir, 'ckpt.pt'))
    print(f"wrote {os.path.join(out_dir, 'ckpt.pt')} at iter_num {step}")


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
