"""xdub.bench: the seed-locked synthetic dubbing benchmark (methods, metrics, results, report)."""
