"""Chapter experiment harnesses: training and evaluation runners with checkpoint caching, one file per topic."""
