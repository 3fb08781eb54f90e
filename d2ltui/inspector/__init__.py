"""Inspection of a model: input shapes, the meta-device summary, receptive fields."""


def without_triton() -> None:
    """For a process that only inspects: torch's FLOP table imports triton (0.05-0.25 s) just to count
    triton kernels, which an inspection never runs. Call before torch is imported; training processes
    must not (torch.compile needs triton)."""
    import logging
    import sys

    sys.modules.setdefault("triton", None)
    logging.getLogger("torch.utils.flop_counter").setLevel(logging.ERROR)  # its "triton not found" warning
