"""The autoencoder family users compare: AE, VAE and beta-VAE, sparse, MLP or conv, denoising, a classifier head;
anomaly detection and cross-validated sweeps (fit, reconstruct, denoise, generate, classify, anomaly, sweep), and
the same as Python objects (estimator.py, detector.py)."""
