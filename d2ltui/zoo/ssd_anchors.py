"""TinySSD's anchor sizes and ratios (the book's section 14.7), importing no torch: the catalog reads them too."""

# two sizes a scale, growing from 0.2 to 0.961 over the five scales; ratios 1, 2, 0.5 at every scale
SSD_SIZES = ((0.2, 0.272), (0.37, 0.447), (0.54, 0.619), (0.71, 0.79), (0.88, 0.961))
SSD_RATIOS = (1.0, 2.0, 0.5)
