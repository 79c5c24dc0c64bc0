"""The file tabs: Score a file (a score for every row) and Evaluate (accuracy on preference pairs, by slice, with the
wrong pairs to open and label: :mod:`ui.files.slices`, :mod:`ui.files.picked`, :mod:`ui.files.labels`), and the
layout, upload checks, column pickers and progress they share (:mod:`ui.files.common`). Imports :mod:`ui.page`,
:mod:`ui.text` and :mod:`ui.charts`, never the other tabs.
"""
