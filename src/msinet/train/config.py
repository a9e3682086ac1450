"""Training configuration: YAML files over a schema of defaults, dotted command-line overrides, validation.

Every key a user writes must exist in DEFAULTS (a typo fails, naming the dotted key) and have the type of
its default; values are then checked for sense (positive lr, patch fits the images...) before any training.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from ..data.degradation import DEGRADATIONS

DEFAULTS: dict = {
    "name": "run",
    "model": {
        "name": "msinet_x4",  # a registry name (msinet models)
        "options": {},  # constructor overrides, e.g. {num_blocks: 16}
        "init": "",  # start from these weights: a registry name with trained weights or a file
        "init_partial": False,  # copy only the weights whose key and shape match (e.g. x4 body -> x2 model)
    },
    "data": {
        "train": [],  # folders of stereo pairs (see msinet.data.train_patches.find_pairs)
        "val": [],  # held-out pairs for periodic validation
        "lr_patch": [30, 90],  # LR patch (h, w); HR is scale times larger
        "hr_scales": [1.0],  # each training image is also used downscaled by these factors
        "degradation": "kit",  # HR -> LR rule (msinet.data.degradation): kit (stereo-SR kits) | rcan
        "hflip": True,
        "vflip": True,
        "rgb_perm": True,
        "workers": 2,  # DataLoader worker processes per training process
        "val_max_pairs": 8,
    },
    "loss": {"freq_weight": 0.01},
    "optim": {
        "name": "lion",  # lion | adamw | adam | sgd (momentum = betas[0])
        "lr": 3.0e-4,
        "betas": [0.9, 0.99],
        "weight_decay": 0.0,
    },
    "scheduler": {
        "name": "cosine",  # cosine (per step, to eta_min) | constant
        "eta_min": 1.0e-8,
        "warmup_steps": 0,
    },
    "train": {
        "steps": 200000,
        "batch_size": 32,  # GLOBAL batch: split evenly over the processes of a torchrun launch
        "seed": 0,
        "deterministic": False,
        "precision": "fp32",  # fp32 | bf16 | fp16 (mixed precision, CUDA only for fp16) | auto (bf16 on a CPU
        # with native bf16, else fp32: msinet.runtime.precision.auto_training_precision)
        "grad_clip": 0.0,  # max gradient norm; 0 = off
        "ema_decay": 0.0,  # EMA of the weights; 0 = off
        "device": "auto",  # auto | cpu | cuda
        "tf32": True,  # TF32 matmuls on Ampere+ GPUs
        "channels_last": False,  # channels_last memory format for model and batches (faster on CPU; see docs)
        "checkpoint_blocks": False,  # recompute each block's inside in backward: memory of ~one block, ~1.3x compute
        "memory_check": True,  # estimate the step's peak memory before training; refuse a run that cannot fit
        "memory_budget_gb": 0.0,  # the budget of that check; 0 = what the device has free
        "compile": "off",  # off | default | reduce-overhead (CUDA graphs) | max-autotune: torch.compile, CUDA only
    },
    "log": {
        "out_dir": "runs",  # the run folder is out_dir/name
        "every": 50,  # steps between JSONL/TensorBoard loss records
        "tensorboard": True,
        "progress": True,
    },
    "checkpoint": {
        "every": 5000,
        "keep": 3,
        # a weights file that carries the run from machine to machine (commit it): rewritten with the EMA (or
        # model) weights whenever validation improves; `--resume auto` with no checkpoint in the run folder
        # continues from it (weights, step and best score; the optimizer state starts fresh)
        "carry": "",
    },
    "val": {"every": 5000},
}

CHOICES = {
    "optim.name": ("lion", "adamw", "adam", "sgd"),
    "scheduler.name": ("cosine", "constant"),
    "train.precision": ("fp32", "bf16", "fp16", "auto"),
    "train.device": ("auto", "cpu", "cuda"),
    "data.degradation": tuple(DEGRADATIONS),
    "train.compile": ("off", "default", "reduce-overhead", "max-autotune"),
}


def _merge(base: dict, update: dict, prefix: str = "") -> dict:
    for key, value in update.items():
        dotted = f"{prefix}{key}"
        if key not in base:
            known = ", ".join(sorted(base))
            raise ValueError(f"config: unknown key {dotted!r} (known at this level: {known})")
        default = base[key]
        if isinstance(default, dict) and dotted != "model.options":
            if not isinstance(value, dict):
                raise ValueError(f"config: {dotted!r} must be a mapping, got {value!r}")
            _merge(default, value, dotted + ".")
        else:
            base[key] = _coerce(dotted, default, value)
    return base


def _coerce(dotted: str, default, value):
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"config: {dotted!r} must be true or false, got {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"config: {dotted!r} must be a number, got {value!r}")
        return float(value)
    if isinstance(default, int):
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
            raise ValueError(f"config: {dotted!r} must be an integer, got {value!r}")
        return int(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ValueError(f"config: {dotted!r} must be a string, got {value!r}")
        return value
    if isinstance(default, list):
        if isinstance(value, (str, int, float)) and dotted in ("data.train", "data.val"):
            value = [value]
        if not isinstance(value, list):
            raise ValueError(f"config: {dotted!r} must be a list, got {value!r}")
        return value
    if isinstance(default, dict):  # model.options: free-form, checked by the model constructor
        if not isinstance(value, dict):
            raise ValueError(f"config: {dotted!r} must be a mapping, got {value!r}")
        return value
    return value


def parse_override(text: str) -> dict:
    """'optim.lr=1e-4' -> {'optim': {'lr': 1e-4}}; the value is read as YAML (numbers, lists, true/false)."""
    if "=" not in text:
        raise ValueError(f"override {text!r} is not of the form key=value (e.g. optim.lr=1e-4)")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ValueError(f"override {text!r}: bad key {key!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        raise ValueError(f"override {text!r}: value is not valid YAML") from None
    if isinstance(value, str):  # YAML 1.1 reads 1e-4 as a string; numbers written that way are meant
        try:
            value = float(value)
        except ValueError:
            pass
    nested: dict = {}
    node = nested
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return nested


def _numbers_from_yaml(node):
    """YAML 1.1 (PyYAML) reads '3e-4' as a string; turn such strings back into numbers."""
    if isinstance(node, dict):
        return {k: _numbers_from_yaml(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_numbers_from_yaml(v) for v in node]
    if isinstance(node, str):
        try:
            return float(node) if any(c in node for c in "eE.") and not node.strip().isalpha() else node
        except ValueError:
            return node
    return node


def load_config(path=None, overrides=(), base: dict | None = None) -> dict:
    """DEFAULTS <- YAML file (if any) <- dict `base` (if any) <- 'key=value' overrides; validated."""
    config = copy.deepcopy(DEFAULTS)
    if path is not None:
        path = Path(path)
        if path.is_dir():
            raise ValueError(
                f"{path} is a folder, not a config file; give a YAML file, e.g. configs/msinet_x4_paper.yaml"
            )
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise ValueError(
                f"{path}: not a text file, so not a YAML config; give a YAML file, e.g. configs/msinet_x4_paper.yaml"
            ) from None
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: a config must be a mapping of keys, got {type(data).__name__}")
        _merge(config, _numbers_from_yaml(data))
    if base:
        _merge(config, _numbers_from_yaml(base))
    for text in overrides:
        _merge(config, parse_override(text))
    validate(config)
    return config


def _check(cond: bool, key: str, message: str) -> None:
    if not cond:
        raise ValueError(f"config: {key!r} {message}")


def validate(config: dict) -> None:
    """Sense checks that need no data; the ones that do (patch vs image size) run when data is loaded."""
    for dotted, options in CHOICES.items():
        section, key = dotted.split(".")
        _check(
            config[section][key] in options,
            dotted,
            f"must be one of {', '.join(options)}, got {config[section][key]!r}",
        )
    o, s, t, d = config["optim"], config["scheduler"], config["train"], config["data"]
    _check(o["lr"] > 0, "optim.lr", f"must be positive, got {o['lr']}")
    _check(o["weight_decay"] >= 0, "optim.weight_decay", f"must be >= 0, got {o['weight_decay']}")
    _check(
        len(o["betas"]) == 2 and all(isinstance(b, (int, float)) and 0 <= b < 1 for b in o["betas"]),
        "optim.betas",
        f"must be two numbers in [0, 1), got {o['betas']}",
    )
    _check(s["eta_min"] >= 0, "scheduler.eta_min", f"must be >= 0, got {s['eta_min']}")
    _check(s["eta_min"] <= o["lr"], "scheduler.eta_min", f"({s['eta_min']}) must not exceed optim.lr ({o['lr']})")
    _check(s["warmup_steps"] >= 0, "scheduler.warmup_steps", "must be >= 0")
    _check(t["steps"] > 0, "train.steps", f"must be positive, got {t['steps']}")
    _check(t["batch_size"] > 0, "train.batch_size", f"must be positive, got {t['batch_size']}")
    _check(t["grad_clip"] >= 0, "train.grad_clip", f"must be >= 0 (0 = off), got {t['grad_clip']}")
    _check(
        t["memory_budget_gb"] >= 0,
        "train.memory_budget_gb",
        f"must be >= 0 (0 = free memory), got {t['memory_budget_gb']}",
    )
    _check(0 <= t["ema_decay"] < 1, "train.ema_decay", f"must be in [0, 1) (0 = off), got {t['ema_decay']}")
    _check(config["loss"]["freq_weight"] >= 0, "loss.freq_weight", "must be >= 0")
    _check(
        len(d["lr_patch"]) == 2 and all(isinstance(v, int) and v > 0 for v in d["lr_patch"]),
        "data.lr_patch",
        f"must be two positive integers (h, w), got {d['lr_patch']}",
    )
    _check(
        len(d["hr_scales"]) > 0 and all(isinstance(v, (int, float)) and 0 < v <= 1 for v in d["hr_scales"]),
        "data.hr_scales",
        f"must be a non-empty list of factors in (0, 1], got {d['hr_scales']}",
    )
    _check(d["workers"] >= 0, "data.workers", "must be >= 0")
    for key in ("train", "val"):
        _check(all(isinstance(p, str) for p in d[key]), f"data.{key}", "must be a list of folder paths")
    _check(config["log"]["every"] > 0, "log.every", "must be positive")
    _check(config["checkpoint"]["every"] > 0, "checkpoint.every", "must be positive")
    _check(config["checkpoint"]["keep"] > 0, "checkpoint.keep", "must be positive")
    _check(config["val"]["every"] > 0, "val.every", "must be positive")
    _check(
        isinstance(config["name"], str) and config["name"] and "/" not in config["name"],
        "name",
        "must be a non-empty folder name",
    )


def dump_config(config: dict) -> str:
    return yaml.safe_dump(config, sort_keys=False)
