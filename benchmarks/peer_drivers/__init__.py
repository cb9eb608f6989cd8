"""Scripts run inside each peer's own virtualenv (benchmarks/.peers/<peer>); they print JSON."""
