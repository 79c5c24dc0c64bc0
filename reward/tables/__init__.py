"""Tables in and out: file formats and their names, reading (CSV, JSON, JSONL, Parquet), writing with every input
column kept as it came, column checks and suggestions, output checks and rescue files, and what pages and terminals
show of texts and tables.

Imports :mod:`reward.config` and nothing else of ``reward``: it knows files, not models.
"""
