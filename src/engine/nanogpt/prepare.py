"""
Prepare this run's text for nanoGPT, as nanoGPT's data/shakespeare_char/prepare.py does:
character ids in sorted code-point order (the browser's order), the first 90% for
training and the last 10% for validation, saved as train.bin, val.bin (uint16) and
meta.pkl (vocab_size, itos, stoi) beside this file.
"""
import json
import os
import pickle

import numpy as np

here = os.path.dirname(__file__)
with open(os.path.join(here, 'input.txt'), 'r', encoding='utf-8') as f:
    data = f.read()
print(f"length of dataset in characters: {len(data):,}")

chars = sorted(list(set(data)))
# The vocabulary the browser trained with: the same ids, or the weights would not fit.
browser_vocab = json.loads(__VOCAB__)
assert chars == browser_vocab, 'input.txt does not have the characters the browser run trained on'
vocab_size = len(chars)
print("all the unique characters:", ''.join(chars))
print(f"vocab size: {vocab_size:,}")

stoi = {ch: i for i, ch in enumerate(chars)}
itos = {i: ch for i, ch in enumerate(chars)}
def encode(s):
    return [stoi[c] for c in s]

n = len(data)
train_data = data[:int(n * 0.9)]
val_data = data[int(n * 0.9):]
train_ids = np.array(encode(train_data), dtype=np.uint16)
val_ids = np.array(encode(val_data), dtype=np.uint16)
print(f"train has {len(train_ids):,} tokens")
print(f"val has {len(val_ids):,} tokens")
train_ids.tofile(os.path.join(here, 'train.bin'))
val_ids.tofile(os.path.join(here, 'val.bin'))

with open(os.path.join(here, 'meta.pkl'), 'wb') as f:
    pickle.dump({'vocab_size': vocab_size, 'itos': itos, 'stoi': stoi}, f)
