"""The Compare tab: a prompt and candidate responses in; the ranking, the bar chart, the win matrix and the card
check out; the Why this score and Probes panels for one response; share links; and the ``/score``, ``/explain``,
``/attribute`` and ``/probe`` APIs. Imports :mod:`ui.page` and :mod:`ui.text`, never the other tabs.
"""
