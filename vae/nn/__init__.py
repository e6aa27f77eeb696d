"""The torch pieces both pipelines share: layers, losses, the training loop, devices and torch.distributed."""
