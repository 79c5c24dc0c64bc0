"""What the model's verdicts mean: the ranking and the chance one response is preferred over another, why a response
scores as it does (sentence effects, prefixes, integrated gradients), probes of edits a sound judge would ignore,
how far to trust the scores (length baseline, calibration, accuracy by slice), why one response is preferred to
another (words, diff, the smallest flip), and a prompt that is a conversation (flattened as Evaluate flattens a
dialogue, and which of its turns the model read).

Imports :mod:`reward.model` and :mod:`reward.tables` (for text shown in tables), never :mod:`reward.jobs`.
"""
