"""Small non-meta-learning baselines every few-shot result is compared with."""
