"""``hqmed models``: list the registered models with parameter counts, or describe one.

    hqmed models                          # every model, its trainable parameters, paper count
    hqmed models 'hq_*'                   # a shell-style filter
    hqmed models hq_litespinenet -o bridge=linear --input-size 64
"""

from __future__ import annotations

import argparse
from typing import Any

import torch

from hqmed.commands._common import parse_model_options
from hqmed.errors import ConfigError
from hqmed.models import count_parameters, create_model, is_model, list_models, model_default_cfg

HELP = "list registered models with parameter counts, or show one model's architecture"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", default=None,
                        help="a model name (architecture summary) or a pattern such as 'hq_*'")
    parser.add_argument("--num-classes", type=int, default=None,
                        help="number of classes (default: each model's default_cfg)")
    parser.add_argument("--in-chans", type=int, default=3, help="input channels (default 3)")
    parser.add_argument("--input-size", type=int, default=None,
                        help="square input size for the shape trace (default: default_cfg)")
    parser.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE",
                        help="model option, YAML value, e.g. -o head=gap -o stride_list=[1,1,2,2,2]")


def _list(names: list[str], args: argparse.Namespace, opts: dict[str, Any]) -> int:
    rows = []
    for name in names:
        cfg = model_default_cfg(name)
        model = create_model(name, args.num_classes, in_chans=args.in_chans, **opts)
        params, k = f"{count_parameters(model):,}", model.num_classes
        paper = f"{cfg['paper_params']:,}" if cfg.get("paper_params") else ""
        rows.append((name, str(k), params, paper, cfg.get("description", "")))
    header = ("model", "classes", "trainable params", "reference", "description")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(4)]
    for row in [header] + rows:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                        enumerate(zip(row[:4], widths))) + "  " + row[4])
    print("reference: the trainable-parameter count published for the model (PaddleClas, torchvision "
          "or the paper, at its default number of classes); blank where none is published")
    return 0


def _describe(name: str, args: argparse.Namespace, opts: dict[str, Any]) -> int:
    model = create_model(name, args.num_classes, in_chans=args.in_chans, **opts).eval()
    cfg = model.default_cfg
    size = args.input_size or cfg["input_size"][-1]
    print(f"{name}: {cfg.get('description', '')}")
    print(f"  reference: {cfg.get('paper', '')}")
    print(f"  num_classes={model.num_classes} in_chans={model.in_chans} "
          f"default input {tuple(cfg['input_size'])}")
    print(f"  trainable parameters: {count_parameters(model):,}"
          + (f" (reference {cfg['paper_params']:,})" if cfg.get("paper_params") else ""))
    print("  parameters by part:")
    for child_name, child in model.named_children():
        print(f"    {child_name:<12} {count_parameters(child):>12,}")
    x = torch.zeros(1, model.in_chans, size, size)
    with torch.no_grad():
        feats = model.forward_features(x)
        pre = model.forward_head(feats, pre_logits=True)
        out = model.forward_head(feats)
    print(f"  shapes at {tuple(x.shape)}: features {tuple(feats.shape)} -> pre-logits "
          f"{tuple(pre.shape)} -> logits {tuple(out.shape)}")
    print()
    print(model)
    return 0


def run(args: argparse.Namespace) -> int:
    opts = parse_model_options(args.option)
    if args.name is not None and is_model(args.name):
        return _describe(args.name, args, opts)
    names = list_models(args.name)
    if not names:
        raise ConfigError(f"model: no registered model matches {args.name!r}; expected one of "
                          f"{', '.join(list_models())}")
    return _list(names, args, opts)
