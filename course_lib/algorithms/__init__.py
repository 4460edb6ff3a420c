"""Meta-learning algorithms, one readable file each."""
