"""The coding assistant: fill-in-the-middle completion and its evaluation."""
