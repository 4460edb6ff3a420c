"""Concept diagrams drawn with Matplotlib (they render in JupyterLab, the built course and on Colab), one file per diagram."""
