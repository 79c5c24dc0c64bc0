"""Jobs over files: score every row of a file, evaluate preference pairs (the three pair layouts) or best-of-N sets,
overall and by slice (with a person's labels, the accuracy without the pairs whose label is wrong), and run either on
a Ray cluster. Each job checks its whole input before a model loads and keeps what was scored when it stops.

It may import :mod:`reward.model`, :mod:`reward.tables` and :mod:`reward.insight`; only the service and the command
line above it import it.
"""
