"""Export the real-model corpus to ONNX, with random weights (no downloads).

The corpus is what the "never slower" and "instant hits" benchmarks measure webnnc on:
architectures nobody here wrote, exported the way a user exports them (``torch.onnx.export``,
fixed shapes, batch 1). Weights are random but sane: torchvision / transformers initialise
them by fan-in; on top of that every normalization's scale, shift and running statistics and
every bias are perturbed, so a dropped bias or a wrong batch-norm fold changes the output.

Needs the benchmark-only extra (torch, torchvision, transformers; never needed by webnnc)::

    python benchmarks/corpus_export.py --out benchmarks/results/tmp/corpus
    python benchmarks/corpus_export.py --only resnet50,bert_base --out DIR
    python benchmarks/corpus_export.py --set wide --out /tmp/corpus_wide   # 21 more architectures

``--set default`` (the default) is the 13 models of the README; ``--set wide`` is
``_corpus_wide.py``: other operators and export patterns (some through torch's dynamo
exporter), for finding what breaks on architectures outside the default set.

Each model is written as ``DIR/<name>.onnx`` (external data beside it when over 2 GB is not
needed: all corpus models are smaller) plus ``DIR/<name>.json`` with its input specs. Models
already present are skipped unless ``--force``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _corpus_wide import WIDE

SEQ = 128  # fixed sequence length of the language and speech models


def _perturb(model: Any, seed: int) -> Any:
    """Make norms, running statistics and biases non-trivial (a dropped one must show)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            for name in ("bias",):
                p = getattr(module, name, None)
                if isinstance(p, torch.Tensor) and p.dim() == 1:
                    p.add_(0.05 * torch.randn(p.shape, generator=gen))
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and module.running_mean is not None:
                module.running_mean.add_(0.1 * torch.randn(module.running_mean.shape, generator=gen))
                module.running_var.mul_(torch.empty(module.running_var.shape).uniform_(0.5, 1.5, generator=gen))
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm | torch.nn.LayerNorm | torch.nn.GroupNorm):
                if getattr(module, "weight", None) is not None:
                    module.weight.mul_(torch.empty(module.weight.shape).uniform_(0.8, 1.2, generator=gen))
    return model.eval()


def _tv(
    name: str, size: int = 224, *, fan_in: bool = False, **kw: Any
) -> Callable[[], tuple[Any, dict[str, Any]]]:
    def make() -> tuple[Any, dict[str, Any]]:
        import torch
        import torchvision

        model = getattr(torchvision.models, name)(weights=None, **kw)
        if fan_in:  # e.g. inception_v3's fixed-std init reaches logits of ~1e13 in eval mode
            for m in model.modules():
                if isinstance(m, torch.nn.Conv2d | torch.nn.Linear):
                    torch.nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
        return model, {"input": torch.randn(1, 3, size, size)}

    return make


def _bert() -> tuple[Any, dict[str, Any]]:
    import torch
    from transformers import BertConfig, BertModel

    model = BertModel(BertConfig())  # BERT-base: 12 layers, hidden 768
    ids = torch.randint(0, 30000, (1, SEQ))
    return model, {"input_ids": ids, "attention_mask": torch.ones(1, SEQ, dtype=torch.int64)}


def _gpt2() -> tuple[Any, dict[str, Any]]:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(use_cache=False)  # GPT-2 small: 12 layers, hidden 768
    model = GPT2LMHeadModel(config)
    # an explicit attention mask keeps the exporter off transformers' packed-sequence probe
    ids = torch.randint(0, 50000, (1, SEQ))
    return model, {"input_ids": ids, "attention_mask": torch.ones(1, SEQ, dtype=torch.int64)}


def _whisper() -> tuple[Any, dict[str, Any]]:
    import torch
    from transformers import WhisperConfig
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    config = WhisperConfig(  # Whisper-tiny's encoder
        d_model=384, encoder_layers=4, encoder_attention_heads=6, encoder_ffn_dim=1536,
        num_mel_bins=80, max_source_positions=1500,
    )
    model = WhisperEncoder(config)
    return model, {"input_features": torch.randn(1, 80, 3000)}


def _vit() -> tuple[Any, dict[str, Any]]:
    import torch
    from transformers import ViTConfig, ViTModel

    model = ViTModel(ViTConfig(), add_pooling_layer=False)  # ViT-B/16
    return model, {"pixel_values": torch.randn(1, 3, 224, 224)}


def _distilbert() -> tuple[Any, dict[str, Any]]:
    import torch
    from transformers import DistilBertConfig, DistilBertModel

    model = DistilBertModel(DistilBertConfig())
    ids = torch.randint(0, 30000, (1, SEQ))
    return model, {"input_ids": ids, "attention_mask": torch.ones(1, SEQ, dtype=torch.int64)}


CORPUS: dict[str, Callable[[], tuple[Any, dict[str, Any]]]] = {
    "resnet50": _tv("resnet50"),
    "mobilenet_v3_large": _tv("mobilenet_v3_large"),
    "efficientnet_b0": _tv("efficientnet_b0"),
    "inception_v3": _tv("inception_v3", 299, fan_in=True, aux_logits=False, init_weights=True),
    "densenet121": _tv("densenet121"),
    "squeezenet1_1": _tv("squeezenet1_1"),
    "convnext_tiny": _tv("convnext_tiny"),
    "swin_t": _tv("swin_t"),  # windowed attention: rank-6 window partition reshapes
    "bert_base": _bert,
    "distilbert": _distilbert,
    "gpt2_small": _gpt2,
    "whisper_tiny_encoder": _whisper,
    "vit_b_16": _vit,
}


def _positional(model: Any, names: list[str]) -> Any:
    """Wrap ``model`` so the exporter sees positional inputs and one tensor output."""
    import torch

    class Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, *args: Any) -> Any:
            if names == ["input"]:  # torchvision: one positional image
                out = self.inner(*args)
            else:
                out = self.inner(**dict(zip(names, args, strict=True)))
            if isinstance(out, torch.Tensor):
                return out
            if isinstance(out, dict) and not hasattr(out, "to_tuple"):  # torchvision segmentation: {"out": ...}
                return next(iter(out.values()))
            return out[0]  # last_hidden_state / logits

    return Wrapped().eval()


def export(name: str, out: Path, *, opset: int) -> dict[str, Any]:
    import torch

    torch.manual_seed(0)
    factory, options = WIDE[name] if name in WIDE else (CORPUS[name], {})
    opset = options.get("opset", opset)
    dynamo = bool(options.get("dynamo", False))
    model, inputs = factory()
    model = _positional(_perturb(model, seed=1), list(inputs))
    path = out / f"{name}.onnx"
    t0 = time.perf_counter()
    with torch.no_grad():
        torch.onnx.export(
            model, tuple(inputs.values()), str(path), input_names=list(inputs), output_names=["output"], opset_version=opset,
            dynamo=dynamo, do_constant_folding=True, **({"external_data": False} if dynamo else {}),
        )
    specs = {k: {"shape": list(v.shape), "dtype": str(v.dtype).removeprefix("torch.")} for k, v in inputs.items()}
    meta = {"name": name, "inputs": specs, "export_s": round(time.perf_counter() - t0, 2), "opset": opset,
            "exporter": "dynamo" if dynamo else "torchscript"}
    (out / f"{name}.json").write_text(json.dumps(meta, indent=1))
    return meta


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "tmp" / "corpus")
    ap.add_argument("--only", help="comma-separated model names (default: all of the set)")
    ap.add_argument("--set", choices=("default", "wide"), default="default",
                    help="default: the 13 README models; wide: 21 more architectures (_corpus_wide.py)")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--force", action="store_true", help="export again even when present")
    ap.add_argument("--list", action="store_true", help="print the corpus names and exit")
    args = ap.parse_args(argv)
    known = dict.fromkeys(WIDE if args.set == "wide" else CORPUS)
    if args.list:
        print("\n".join(known))
        return 0
    try:
        import torch  # noqa: F401
    except ImportError:
        print("corpus_export: needs torch, torchvision and transformers (pip install -e '.[corpus]')", file=sys.stderr)
        return 1
    names = args.only.split(",") if args.only else list(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        print(f"corpus_export: unknown model(s) {unknown}; known: {', '.join(known)}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names, 1):
        if (args.out / f"{name}.onnx").exists() and not args.force:
            print(f"[{i}/{len(names)}] {name}: present", flush=True)
            continue
        print(f"[{i}/{len(names)}] {name}: exporting ...", flush=True)
        meta = export(name, args.out, opset=args.opset)
        size = (args.out / f"{name}.onnx").stat().st_size / 2**20
        print(f"[{i}/{len(names)}] {name}: {size:.1f} MiB in {meta['export_s']} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
