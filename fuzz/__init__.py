"""Coverage-guided fuzzing of sloburn's parsers of untrusted input (``scripts/fuzz``)."""
