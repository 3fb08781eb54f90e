"""Object detection: anchor boxes, their labels and offsets, and detections after NMS (the book's SSD ops)."""
