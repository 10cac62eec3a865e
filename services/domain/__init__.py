"""The platform's rules and vocabulary, with no I/O: run configs, signals, metrics, sweeps, job names, object URIs."""
