"""The book's interactive figures: knobs in, a computed figure out, no training."""
