"""Automatic checks for the chapters' exercises (one module per chapter)."""
