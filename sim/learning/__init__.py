"""The deep-learning half of the market: data, models, training, fusion and contribution.

Everything here is real: PyTorch networks trained on real digits, fused and scored on real
verification data. The package is split by concept, and importing it (or ``config``) does
not import torch, so scenario loading stays cheap:

- ``config``: the frozen configuration tables ``[data]``, ``[model]``, ``[training]``,
  ``[fusion]``, ``[contribution]`` (and ``ModelLimits`` for accepting model files);
- ``datasets`` / ``fetch``: loading MNIST, mnist-5k, Fashion-MNIST and synthetic digits;
- ``partition``: private shards, the initiator's verification set and the held-out test set;
- ``models``: the paper's 3-layer CNN and an MLP, with reachable penultimate features;
- ``device``: ``cuda`` when available, else CPU;
- ``training``: ``train(TrainRequest)`` with a content-keyed on-disk cache;
- ``safety``: safetensors serialisation, validated loading, perturbation and similarity;
- ``features`` / ``fusion`` / ``contribution`` / ``verification``: what a verifier computes;
- ``paper`` / ``figures``: the paper's experiment (Figs 5 and 6), its tables and plots.
"""
