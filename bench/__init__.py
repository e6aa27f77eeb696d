"""`make bench` and `make ablation`: every benchmark and ablation of vae, outside the package (python -m bench.NAME)."""
