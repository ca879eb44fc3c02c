"""Measuring models: perplexity, KL-divergence, multiple-choice accuracy, speed; datasets and reports."""
