"""Analysis helpers: closed forms and decompositions the chapters use to explain a method (not methods themselves)."""
