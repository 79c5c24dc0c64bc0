"""The model and how it reads a pair: loading (once, cached, on the device picked for you), encoding a
(prompt, response) exactly as the model card does, precision, merging concurrent requests into shared forward
passes, conversations flattened to one prompt, the checks every request meets, ZeroGPU, and the tiny offline
model the tests and benchmarks build.

The lowest layer: it imports :mod:`reward.config` and nothing else of ``reward``.
"""
