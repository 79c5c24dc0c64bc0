"""Precision modes: what bf16, fp16 and int8 mean on a device, which one ``auto`` picks, and converting a model."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from reward.config import BF16_GPU_CAPABILITY, ModelLoadError, precision_problem

HALF_DTYPES = {"bf16": "bfloat16", "fp16": "float16"}
NATIVE_BF16_FLAGS = {"amx_bf16": "AMX-BF16", "avx512_bf16": "AVX512-BF16", "bf16": "Arm BF16"}
"""CPU flags, as /proc/cpuinfo names them, of instructions that multiply bf16 in hardware (Intel Sapphire Rapids
and later, AMD Zen 4 and later, Arm v8.6 such as Graviton 3), and how the model panel names them. Without
one, torch computes bf16 by converting to fp32 and back: several times slower than plain fp32."""
CPUINFO = Path("/proc/cpuinfo")
"""Where Linux lists the CPU's feature flags (the ``flags`` line on x86, ``Features`` on Arm)."""


def read_cpu_flags(cpuinfo: Path | None = None) -> frozenset[str] | None:
    """The CPU's feature flags as ``cpuinfo`` (default ``/proc/cpuinfo``) lists them; None when they cannot be read.

    None (no such file, not readable, no flags line) means "unknown", which is
    not the same as "no bf16": callers say which it was.
    """
    try:
        with open(CPUINFO if cpuinfo is None else cpuinfo, encoding="utf-8", errors="replace") as f:
            text = f.read(200_000)  # the first processor's block is enough; a big server lists hundreds
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[-1].split())
    return None


def native_bf16_names(flags: frozenset[str]) -> list[str]:
    """The names of this CPU's bf16 instructions among ``flags`` (e.g. ``["AVX512-BF16"]``); [] for none."""
    return [name for flag, name in NATIVE_BF16_FLAGS.items() if flag in flags]


@dataclass(frozen=True)
class PrecisionChoice:
    """The precision a model runs in, and why when ``auto`` picked it."""

    precision: str
    """One of fp32, bf16, fp16, int8: never ``auto``."""
    reason: str = ""
    """Why ``auto`` picked it, e.g. "auto: this CPU has AVX512-BF16"; "" when it was asked for by name."""


def choose_precision(requested: str, device, *, cpuinfo: Path | None = None,
                     gpu_capability: tuple[int, int] | None = None) -> PrecisionChoice:
    """The precision to run ``requested`` in on ``device``: itself, or for ``auto`` bf16 where it is native.

    ``auto`` is bf16 on a CUDA GPU with bf16 tensor cores (compute capability
    ``BF16_GPU_CAPABILITY`` or later) and on a CPU whose flags list a bf16
    instruction (``NATIVE_BF16_FLAGS``), and fp32 everywhere else, including a
    CPU whose flags cannot be read. There, bf16 is faster than fp32 (1.4-1.7x
    on a 2-core AVX512-BF16 CPU: bench/results-cpu.md); elsewhere it is emulated
    and several times slower.

    Args:
        requested: a value ``config.precision_problem`` accepts.
        device: a torch device, or its type as a string (``"cpu"``, ``"cuda:1"``).
        cpuinfo: where to read the CPU's flags (default ``/proc/cpuinfo``): tests point it at a file of their own.
        gpu_capability: the CUDA GPU's (major, minor) compute capability; default: asked of torch.
    """
    if requested != "auto":
        return PrecisionChoice(requested)
    kind = getattr(device, "type", str(device).split(":")[0])
    if kind == "cuda":
        if gpu_capability is None:
            import torch

            gpu_capability = torch.cuda.get_device_capability(device)
        if tuple(gpu_capability) >= BF16_GPU_CAPABILITY:
            return PrecisionChoice("bf16", "auto: this GPU has bf16 tensor cores")
        major, minor = gpu_capability
        return PrecisionChoice("fp32", f"auto: this GPU (compute capability {major}.{minor}) has no bf16 tensor "
                                       "cores; REWARD_PRECISION=fp16 is fast on it")
    if kind != "cpu":
        return PrecisionChoice("fp32", f"auto: bf16 is picked only on CUDA GPUs and CPUs with bf16 instructions, "
                                       f"not on {kind}")
    flags = read_cpu_flags(cpuinfo)
    if flags is None:
        return PrecisionChoice("fp32", f"auto: could not read the CPU's flags from {cpuinfo or CPUINFO}")
    names = native_bf16_names(flags)
    if names:
        return PrecisionChoice("bf16", f"auto: this CPU has {' and '.join(names)}")
    return PrecisionChoice("fp32", "auto: no native bf16 on this CPU")


def precision_note(precision: str, device, *, cpuinfo: Path | None = None) -> str:
    """One line on what ``precision`` means on ``device``, for the model panel; "" for fp32."""
    kind = getattr(device, "type", str(device).split(":")[0])
    if precision == "fp32":
        return ""
    if precision == "auto":  # described before loading, when the device may not be known yet
        return "picked when the model loads: bf16 on a CUDA GPU or a CPU with bf16 instructions, fp32 elsewhere"
    if precision == "int8":
        return ("int8 matrix products in the encoder (dynamic quantization, CPU): faster than fp32; "
                "scores move slightly, also with the other pairs in the same forward pass")
    if precision == "bf16" and kind == "cpu":
        flags = read_cpu_flags(cpuinfo)
        if flags is None:
            return ("bf16 matrix products, fp32 elsewhere; this CPU's flags could not be read: without bf16 "
                    "instructions bf16 is SLOWER than fp32")
        if not native_bf16_names(flags):
            return "bf16 matrix products, fp32 elsewhere; this CPU has no bf16 instructions, so bf16 is SLOWER than fp32"
    return (f"{precision} matrix products, fp32 elsewhere: faster; scores move slightly, "
            "bench/benchmark.py measures how much")


def prepare_for_precision(model, precision: str, device):
    """The model converted for ``precision``; fp32 leaves it as it is.

    bf16 and fp16 store the weights of every linear layer in that type once, at
    load, and run under autocast: the matrix products (most of the work) use the
    fast type with no per-call weight conversion, while embeddings, LayerNorm and
    softmax stay in fp32, which keeps scores closer to fp32 than casting the
    whole model. int8 replaces the encoder's linear layers with dynamically
    quantized ones (CPU only); the pooler and the one-logit head stay fp32.
    """
    problem = precision_problem(precision, getattr(device, "type", str(device)))
    if problem:
        raise ValueError(problem)
    if precision == "fp32":
        return model
    import torch

    if precision in HALF_DTYPES:
        dtype = getattr(torch, HALF_DTYPES[precision])
        for module in model.modules():
            if isinstance(module, torch.nn.Linear):
                module.to(dtype)
        return model
    if precision != "int8":  # "auto" must be resolved by choose_precision first
        raise ValueError(f"precision {precision!r} is not one a model can be converted to: choose one first.")
    import warnings

    names = {name for name, module in model.named_modules()
             if isinstance(module, torch.nn.Linear) and ".encoder." in f".{name}."}
    if not names:  # not a BERT-like layout: every linear layer but the output head
        names = {name for name, module in model.named_modules()
                 if isinstance(module, torch.nn.Linear) and module.out_features > model.config.num_labels}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch marks eager quantization deprecated; it works in the pinned torch
        try:
            from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic
        except ImportError as err:
            raise ModelLoadError("REWARD_PRECISION=int8 needs torch.ao.quantization, which this torch lacks: "
                                 "use fp32 or bf16.") from err
        # One weight scale per output channel: measurably closer to fp32 than one per matrix.
        return quantize_dynamic(model, dict.fromkeys(names, per_channel_dynamic_qconfig), dtype=torch.qint8)


def autocast(precision: str, device):
    """The autocast context a forward pass in ``precision`` runs under (none for fp32 and int8)."""
    import torch

    dtype = HALF_DTYPES.get(precision)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=getattr(torch, dtype))
