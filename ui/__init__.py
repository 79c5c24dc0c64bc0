"""The Gradio page: ``ui.compare`` (the Compare tab and its panels), ``ui.files`` (the two file tabs) and
``ui.models`` (the Models tab), over what the whole page shares (``ui.page``, ``ui.text``, ``ui.charts``, and the
server's ``ui.body_limit``, ``ui.runtime`` and the front doors that check a request before Gradio reads it:
``ui.protocol``, ``ui.front_door``, ``ui.mcp_door``). A tab never imports another tab. Every event handler with many
outputs returns a dict keyed by component, so adding a panel cannot shift another panel's value.

Everything here adapts values between the page and :mod:`reward` (plain Python) and
turns problems into messages; ``app.py`` puts the page together and launches it.
"""
