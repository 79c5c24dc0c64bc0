"""Precision modes: what bf16, fp16 and int8 mean on a device, and converting a loaded model for one."""

from __future__ import annotations

import contextlib

from reward.config import ModelLoadError, precision_problem

HALF_DTYPES = {"bf16": "bfloat16", "fp16": "float16"}


def cpu_has_native_bf16() -> bool:
    """True when this CPU multiplies bf16 in hardware (AVX512-BF16 or AMX on x86, BF16 on Arm).

    Without it, torch still computes in bf16, but by converting to fp32 and
    back, which is several times slower than plain fp32.
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            text = f.read(200_000)
    except OSError:
        text = ""
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            flags = set(line.split(":", 1)[-1].split())
            return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})
    try:  # not Linux: ask oneDNN (true also for plain AVX-512, which at least converts fast)
        import torch

        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except Exception:  # noqa: BLE001 - a private probe; no answer means no
        return False


def precision_note(precision: str, device) -> str:
    """One line on what ``precision`` means on ``device``, for the model panel; "" for fp32."""
    kind = getattr(device, "type", str(device))
    if precision == "fp32":
        return ""
    if precision == "int8":
        return ("int8 matrix products in the encoder (dynamic quantization, CPU): faster than fp32; "
                "scores move slightly, also with the other pairs in the same forward pass")
    if precision == "bf16" and kind == "cpu" and not cpu_has_native_bf16():
        return "bf16 matrix products, fp32 elsewhere; this CPU has no bf16 instructions, so bf16 is SLOWER than fp32"
    return f"{precision} matrix products, fp32 elsewhere: faster; scores move slightly (bench/benchmark.py measures how much)"


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
