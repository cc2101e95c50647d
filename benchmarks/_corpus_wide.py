"""The wide corpus: architectures beyond the 13 of the default set (``corpus_export.py --set wide``).

Chosen to cover operators and export patterns the default corpus does not: grouped and
channel-shuffled convolutions (RegNet, ShuffleNet, ResNeXt), squeeze-excite with ReLU6 and
plain ReLU (MNASNet, MobileNetV2), LRN-free classic stacks with large Gemms (AlexNet),
Inception concat towers (GoogLeNet), MaxViT's block/grid attention with relative position
bias, segmentation heads with bilinear upsampling (DeepLabV3, LR-ASPP: ``Resize``), 3-D
convolution and pooling (R3D-18 on a short clip), and transformers built from config objects
(small configs, realistic shapes): RoBERTa (position ids from ``CumSum`` over the mask),
ALBERT (factorized embeddings, one shared layer), T5's encoder (RMSNorm, relative position
buckets, no biases), CLIP's vision tower (quick-GELU, class token), BEiT (relative position
bias gathered by index), MobileViT (unfold / fold of patches), wav2vec 2.0 (1-D conv front end,
GroupNorm, grouped positional convolution), and two causal decoders other than GPT-2 (OPT,
a tiny Llama: RMSNorm, rotary embeddings, SiLU gating).

A few models are exported with torch's dynamo exporter (``torch.onnx.export(dynamo=True)``,
opset 18), the default of recent torch: its graphs use other op forms (``ReduceMean`` axes as
an input, ``Split`` by ``num_outputs``, ``LayerNormalization`` as one node, rank-0 constants).

The first 21 entries were the initial wide set; s3d, swin_v2_t, efficientnet_v2_s,
bart_encoder, deit_dynamo, dpt, segformer, hubert, llama_dynamo and gpt_neo were added after
the first fixes to probe them (3-D separable convs and pools, align_corners upsampling).

Every factory returns ``(model, example inputs)``; names of int64 inputs containing ``mask``
are fed ones by the benchmark, other int64 inputs random ids below 1000 (vocabularies here are
larger than that).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SEQ = 128  # fixed sequence length of the language models
Factory = Callable[[], tuple[Any, dict[str, Any]]]


def _tv(name: str, shape: tuple[int, ...] = (1, 3, 224, 224), *, family: str = "", **kw: Any) -> Factory:
    def make() -> tuple[Any, dict[str, Any]]:
        import torch
        import torchvision

        ns = getattr(torchvision.models, family) if family else torchvision.models
        model = getattr(ns, name)(weights=None, **kw)
        return model, {"input": torch.randn(*shape)}

    return make


def _ids(mask: bool = True) -> dict[str, Any]:
    import torch

    feeds = {"input_ids": torch.randint(0, 1000, (1, SEQ))}
    if mask:
        feeds["attention_mask"] = torch.ones(1, SEQ, dtype=torch.int64)
    return feeds


def _hf(cls: str, config_cls: str, inputs: Callable[[], dict[str, Any]], **config: Any) -> Factory:
    def make() -> tuple[Any, dict[str, Any]]:
        import transformers

        model = getattr(transformers, cls)(getattr(transformers, config_cls)(**config))
        return model, inputs()

    return make


def _pixels(size: int = 224) -> Callable[[], dict[str, Any]]:
    def make() -> dict[str, Any]:
        import torch

        return {"pixel_values": torch.randn(1, 3, size, size)}

    return make


def _bart_encoder() -> tuple[Any, dict[str, Any]]:
    from transformers import BartConfig
    from transformers.models.bart.modeling_bart import BartEncoder

    return BartEncoder(BartConfig(d_model=384, encoder_layers=4, encoder_attention_heads=6, encoder_ffn_dim=1536)), _ids()


def _audio() -> dict[str, Any]:
    import torch

    return {"input_values": torch.randn(1, 16000)}  # one second at 16 kHz


ENC = {"hidden_size": 384, "num_hidden_layers": 4, "num_attention_heads": 6, "intermediate_size": 1536}

# name -> (factory, export options); options: dynamo (bool), opset (int)
WIDE: dict[str, tuple[Factory, dict[str, Any]]] = {
    "regnet_y_400mf": (_tv("regnet_y_400mf"), {}),
    "shufflenet_v2_x1_0": (_tv("shufflenet_v2_x1_0"), {}),
    "mnasnet1_0": (_tv("mnasnet1_0"), {}),
    "resnext50_32x4d": (_tv("resnext50_32x4d"), {}),
    "alexnet": (_tv("alexnet"), {}),
    "googlenet": (_tv("googlenet", aux_logits=False, init_weights=True), {}),
    "mobilenet_v2_dynamo": (_tv("mobilenet_v2"), {"dynamo": True, "opset": 18}),
    "maxvit_t": (_tv("maxvit_t"), {}),
    "deeplabv3_mobilenet_v3_large": (
        _tv("deeplabv3_mobilenet_v3_large", (1, 3, 320, 320), family="segmentation", weights_backbone=None), {}),
    "lraspp_mobilenet_v3_large": (
        _tv("lraspp_mobilenet_v3_large", (1, 3, 320, 320), family="segmentation", weights_backbone=None), {}),
    "r3d_18": (_tv("r3d_18", (1, 3, 8, 112, 112), family="video"), {}),
    # separable 1xkxk / kx1x1 3-D convs and 3-D max pooling; its last pool needs 16 x 224 x 224
    "s3d": (_tv("s3d", (1, 3, 16, 224, 224), family="video"), {}),
    "swin_v2_t": (_tv("swin_v2_t", (1, 3, 256, 256)), {}),  # cosine attention, log-spaced position MLP
    "efficientnet_v2_s": (_tv("efficientnet_v2_s"), {}),  # fused-MBConv
    "roberta": (_hf("RobertaModel", "RobertaConfig", _ids, **ENC), {}),
    "albert": (_hf("AlbertModel", "AlbertConfig", _ids, embedding_size=128, **ENC), {}),
    "electra_dynamo": (_hf("ElectraModel", "ElectraConfig", _ids, embedding_size=128, **ENC),
                       {"dynamo": True, "opset": 18}),
    "bart_encoder": (_bart_encoder, {}),
    "t5_encoder": (_hf("T5EncoderModel", "T5Config", lambda: _ids(), d_model=384, d_kv=64, d_ff=1536,
                       num_layers=4, num_heads=6, vocab_size=32128), {}),
    "clip_vision": (_hf("CLIPVisionModel", "CLIPVisionConfig", _pixels(), hidden_size=384, num_hidden_layers=4,
                        num_attention_heads=6, intermediate_size=1536, patch_size=32), {}),
    "beit": (_hf("BeitModel", "BeitConfig", _pixels(), use_relative_position_bias=True, **ENC), {}),
    "deit_dynamo": (_hf("DeiTModel", "DeiTConfig", _pixels(), **ENC), {"dynamo": True, "opset": 18}),
    "mobilevit": (_hf("MobileViTModel", "MobileViTConfig", _pixels(256)), {}),
    # align_corners bilinear upsampling (Resize) and ConvTranspose in the reassemble stage
    "dpt": (_hf("DPTForDepthEstimation", "DPTConfig", _pixels(384), hidden_size=384, num_hidden_layers=4,
                num_attention_heads=6, intermediate_size=1536, image_size=384, backbone_out_indices=[0, 1, 2, 3],
                neck_hidden_sizes=[48, 96, 192, 384], fusion_hidden_size=64), {}),
    "segformer": (_hf("SegformerForSemanticSegmentation", "SegformerConfig", _pixels(512)), {}),
    "wav2vec2": (_hf("Wav2Vec2Model", "Wav2Vec2Config", _audio, **ENC), {}),
    "hubert": (_hf("HubertModel", "HubertConfig", _audio, **ENC), {}),
    "opt_decoder": (_hf("OPTModel", "OPTConfig", _ids, hidden_size=384, num_hidden_layers=4,
                        num_attention_heads=6, ffn_dim=1536, word_embed_proj_dim=384, use_cache=False), {}),
    "llama_decoder": (_hf("LlamaModel", "LlamaConfig", _ids, hidden_size=384, num_hidden_layers=4,
                          num_attention_heads=6, num_key_value_heads=2, intermediate_size=1024,
                          vocab_size=32000, use_cache=False), {}),
    "llama_dynamo": (_hf("LlamaModel", "LlamaConfig", _ids, hidden_size=384, num_hidden_layers=4,
                         num_attention_heads=6, num_key_value_heads=2, intermediate_size=1024,
                         vocab_size=32000, use_cache=False), {"dynamo": True, "opset": 18}),
    "gpt_neo": (_hf("GPTNeoModel", "GPTNeoConfig", _ids, hidden_size=384, num_layers=4, num_heads=6,
                    attention_types=[[["global", "local"], 2]], window_size=32, use_cache=False), {}),  # local attention
}
