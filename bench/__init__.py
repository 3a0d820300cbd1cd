"""ICR benchmarks: `make bench` (python -m bench). One section per function in SECTIONS."""
