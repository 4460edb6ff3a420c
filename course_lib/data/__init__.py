"""Dataset download, verification and loaders (Omniglot, ASSISTments, sinusoid tasks)."""
