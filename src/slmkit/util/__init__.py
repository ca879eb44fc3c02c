"""Small standard-library helpers with one home each (files, text, threads).

Beside ``core``: anyone may import them; they import nothing of ours.
"""
