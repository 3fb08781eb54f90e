"""Object detection: anchor boxes, their labels and offsets, and detections after NMS (the book's SSD ops).

The book's TinySSD anchors live here, importing no torch, for the zoo's catalog and the model alike.
"""

# two sizes a scale, growing from 0.2 to 0.961 over the five scales; ratios 1, 2, 0.5 at every scale
SSD_SIZES = ((0.2, 0.272), (0.37, 0.447), (0.54, 0.619), (0.71, 0.79), (0.88, 0.961))
SSD_RATIOS = (1.0, 2.0, 0.5)
