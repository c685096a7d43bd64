"""In what precision fine-tuning runs: bf16 autocast or fp32 (the device itself is picked by
:func:`latentgeom.gpus.pick_device`, shared with the geometry half)."""

from __future__ import annotations


def use_bf16(precision: str, device: str) -> bool:
    import torch

    if precision == "fp32" or not device.startswith("cuda"):
        if precision == "bf16" and not device.startswith("cuda"):
            print("note: bf16 asked for on the CPU; training in fp32")
        return False
    return precision == "bf16" or torch.cuda.is_bf16_supported()

