"""The Gradio page: one module per tab, one for what the page shares, one for what the file tabs share.

Everything here adapts values between the page and :mod:`reward` (plain Python) and
turns problems into messages; ``app.py`` puts the page together and launches it.
"""
