"""One thin module per DVC stage (and MLproject entry point)."""
