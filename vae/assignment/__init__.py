"""The course assignment's pipeline: an MLP VAE with a 2-D latent, trained with label propagation, and a Gaussian
mixture on its latent that classifies; inference in numpy (train, test_reconstruction, test_classifier)."""
