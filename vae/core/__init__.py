"""The torch-free core both pipelines stand on: errors, image sets, metrics, the EM mixture, files (atomic writes,
safe model reading), reports and figures. Imports nothing above it."""
