"""Where and in what precision fine-tuning runs: the device, and bf16 autocast or fp32.

:func:`pick_device` is shared with the geometry half (``embed.device``).
"""

from __future__ import annotations


def pick_device(device: str = "auto", field: str = "device") -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; a CUDA device asked for on a
    machine without one is an error naming the config ``field``."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"{field}: {device!r} asked for, but torch sees no CUDA device")
    return device


def use_bf16(precision: str, device: str) -> bool:
    import torch

    if precision == "fp32" or not device.startswith("cuda"):
        if precision == "bf16" and not device.startswith("cuda"):
            print("note: bf16 asked for on the CPU; training in fp32")
        return False
    return precision == "bf16" or torch.cuda.is_bf16_supported()

