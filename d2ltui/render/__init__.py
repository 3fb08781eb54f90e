"""Text pictures both views draw (half-block images, augmentation grids): rich Text, no Textual, no torch."""
