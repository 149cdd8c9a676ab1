"""
Turn nanoGPT's ckpt.pt back into a GPT Playground .checkpoint.safetensors (weights,
AdamW moments and step), so a model trained on GPUs comes back into the browser.

    python ckpt_to_playground.py out-DIR/ckpt.pt data/DATASET/meta.pkl OUT.checkpoint.safetensors

Run it from nanoGPT's directory. Plain PyTorch: the safetensors file is written by hand.
"""
import json
import pickle
import struct
import sys

import torch

from model import GPT, GPTConfig


def write_safetensors(path, tensors, metadata):
    header, offset, blobs = {'__metadata__': metadata}, 0, []
    for name, t in tensors.items():
        data = t.detach().to(torch.float32).contiguous().cpu().numpy().tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(',', ':')).encode('utf-8')
    head += b' ' * (-len(head) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)


def main(ckpt_path, meta_path, out):
    ckpt = torch.load(ckpt_path, map_location='cpu')
    with open(meta_path, 'rb') as f:
        meta = pickle.load(f)
    vocab = [meta['itos'][i] for i in range(meta['vocab_size'])]
    args = ckpt['model_args']
    model = GPT(GPTConfig(**args))
    state = {k.removeprefix('_orig_mod.'): v for k, v in ckpt['model'].items()}
    model.load_state_dict(state)

    tensors = {n: p for n, p in model.named_parameters()}
    tensors['lm_head.weight'] = model.lm_head.weight
    step = int(ckpt['iter_num'])
    # AdamW moments by parameter, in the order configure_optimizers grouped them.
    names = [n for n, p in model.named_parameters() if p.dim() >= 2] + [n for n, p in model.named_parameters() if p.dim() < 2]
    opt_state = ckpt.get('optimizer', {}).get('state', {})
    if len(opt_state) == len(names):
        for i, name in enumerate(names):
            tensors['optimizer.m.' + name] = opt_state[i]['exp_avg']
            tensors['optimizer.v.' + name] = opt_state[i]['exp_avg_sq']

    config = {k: args[k] for k in ('n_layer', 'n_head', 'n_embd', 'block_size', 'vocab_size', 'bias')}
    config['dropout'] = args.get('dropout', 0.0)
    metadata = {
        'format': 'nanogpt-state-dict',
        'config': json.dumps(config),
        'playground_architecture': json.dumps({'activation': 'gelu', 'tie_weights': True, 'layernorm_eps': 1e-5}),
        'vocab': json.dumps(vocab),
        'step': str(step),
        # nanoGPT's own count and budget: the import opens the run at iter_num of max_iters.
        'iter_num': str(step),
    }
    max_iters = ckpt.get('config', {}).get('max_iters')
    if isinstance(max_iters, int) and max_iters > 0:
        metadata['max_iters'] = str(max_iters)
    # A run on tokens: its tokenizer (kept in meta.pkl by the browser), so the import reads the corpus with it.
    if 'playground_tokenizer' in meta:
        metadata['tokenizer'] = meta['playground_tokenizer']
    if len(opt_state) != len(names):
        del metadata['step']
    write_safetensors(out, tensors, metadata)
    print(f'wrote {out} at step {step}')


if __name__ == '__main__':
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3])
