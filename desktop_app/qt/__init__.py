"""The thin Qt layer: widgets, item models and one controller per stream, over the core."""
