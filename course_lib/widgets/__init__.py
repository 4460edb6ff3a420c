"""Interactive ipywidgets demos, one file per chapter topic."""
