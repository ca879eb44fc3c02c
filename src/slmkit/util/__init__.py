"""Small helpers with one home each (files, text, threads, terminal progress).

Beside ``core``: anyone may import them; they import nothing of ours.
"""
