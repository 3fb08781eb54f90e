"""Many runs from one request: sweeps and K-fold cross-validation."""
