"""Privacy lifecycle: raw-data retention and the right to erasure."""
