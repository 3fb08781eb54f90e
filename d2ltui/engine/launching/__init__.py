"""Starting training as other processes: detached, from the TUI, under torchrun."""
