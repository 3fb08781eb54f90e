"""Reading finished (or running) runs back: prediction from a checkpoint, TensorBoard export."""
