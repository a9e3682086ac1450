"""`msinet doctor`: what this installation is and whether its fast paths compute what they should.

    versions ─ devices ─ threads ─ bf16 ─ weights cache ─ fast paths (each on every device) ─ speed probe
                                                             │ FAILED, or a cached file that fails its check
                                                             └─► exit 1

It is what a user pastes into a bug report: one line per fact, nothing that needs the network. Each fast path
(msinet.fastpath) runs its own fixed probe against its reference on every device here, fresh (the process's
cached verdicts are neither used nor changed), and prints ok / FAILED with the deviation / not available.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
import time

HELP = "report versions, devices, the weights cache and fast-path checks (paste it into a bug report)"
# LR size of the speed probe's pair per device type: about a second per pair on one CPU core
SPEED_SIZE = {"cpu": (32, 64), "mps": (64, 128), "cuda": (128, 256)}


def add_arguments(p):
    p.add_argument("--seconds", type=float, default=5.0, help="length of the speed probe (default 5; 0 skips it)")
    p.add_argument(
        "--device",
        default="auto",
        help="device of the speed probe: auto (default: CUDA, else MPS, else CPU), cpu, cuda[:N], mps",
    )
    p.add_argument(
        "--model",
        default=None,
        help="model of the speed probe (default: the default x4 model; random weights, speed only)",
    )


def run(args) -> int:
    from ..runtime.devices import resolve_device

    if args.seconds < 0:
        raise ValueError(f"--seconds must be >= 0, got {args.seconds}")
    speed_device = resolve_device(args.device)
    failures: list[str] = []
    print("msinet doctor")
    _versions()
    devices = _devices()
    _threads()
    _bf16(devices)
    failures += _weights_cache()
    failures += _fast_paths(devices)
    if args.seconds > 0:
        failures += _speed(speed_device, args.seconds, args.model)
    print(f"result: {'FAILED: ' + '; '.join(failures) if failures else 'ok'}")
    return 1 if failures else 0


def _line(label: str, text: str, indent: int = 2, column: int = 20) -> None:
    print(f"{' ' * indent}{label:<{column - indent - 1}s} {text}")


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _versions() -> None:
    import torch

    from .. import __version__

    print("versions")
    _line("msinet", f"{__version__} ({os.path.dirname(os.path.dirname(os.path.abspath(__file__)))})")
    _line("python", f"{platform.python_version()} ({sys.executable})")
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    _line("torch", f"{torch.__version__} (CUDA {torch.version.cuda or 'none'}, cuDNN {cudnn or 'none'})")
    for dist in ("triton", "onnxruntime", "av", "numpy", "safetensors"):
        _line(dist, _version(dist))
    _line("platform", platform.platform())


def _devices() -> list:
    import torch

    devices = [torch.device("cpu")]
    print("devices")
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    _line(
        "cpu",
        f"{_cpu_name()}, {cores} cores ({usable} usable), instruction set {torch.backends.cpu.get_cpu_capability()}",
    )
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            devices.append(torch.device("cuda", i))
            _line(f"cuda:{i}", f"{p.name}, compute capability {p.major}.{p.minor}, {p.total_memory / 2**30:.1f} GiB")
    else:
        _line("cuda", "not available" + ("" if torch.version.cuda else " (a CPU-only torch build)"))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append(torch.device("mps"))
        _line("mps", "available")
    return devices


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _threads() -> None:
    import torch

    env = ", ".join(
        f"{k}={os.environ[k]}" if k in os.environ else f"{k} unset" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
    )
    _line(
        "threads",
        f"torch {torch.get_num_threads()} intra-op, {torch.get_num_interop_threads()} inter-op; {env}",
        indent=0,
    )


def _bf16(devices) -> None:
    import torch

    parts = []
    for device in devices:
        if device.type == "cpu":
            flags = _cpu_flags()
            native = sorted(flags & {"avx512_bf16", "amx_bf16"})
            state = f"native ({', '.join(native)})" if native else "emulated (slow)" if flags else "unknown"
            parts.append(f"cpu {state}")
        elif device.type == "cuda":
            major = torch.cuda.get_device_properties(device.index).major
            parts.append(f"{device} {'native' if major >= 8 else 'emulated (slow)'}")
        else:
            parts.append(f"{device} unknown")
    _line("bf16", "; ".join(parts), indent=0)


def _weights_cache() -> list[str]:
    from ..cache import CACHE_ENV
    from ..models.fetch import cache_path, check_digest, weights_dir
    from ..models.pretrained import weights_table

    failures = []
    folder = weights_dir()
    print(f"weights cache       {folder} (${CACHE_ENV} {'set' if os.environ.get(CACHE_ENV) else 'unset'})")
    table = weights_table()
    known = set()
    for name, record in table.items():
        if record.source == "shipped":
            _line(name, "shipped in the package", column=24)
            continue
        path = cache_path(record)
        known.add(path.name)
        if not path.is_file():
            _line(name, f"not downloaded ({record.size_text()})", column=24)
            continue
        try:
            check_digest(record, path)
            _line(name, f"cached, {path.stat().st_size / 1e6:.1f} MB, {record.verification} ok", column=24)
        except Exception as exc:  # noqa: BLE001 - a bad file is reported, not raised
            _line(name, f"BAD: {exc}", column=24)
            failures.append(f"cached weights of {name}")
    extra = (
        sorted(
            p.name
            for p in folder.iterdir()
            if p.is_file() and p.name not in known and p.name != "index.json" and not p.name.startswith(".")
        )
        if folder.is_dir()
        else []
    )
    if extra:
        _line("other files", ", ".join(extra), column=24)
    return failures


def _fast_paths(devices) -> list[str]:
    from .. import fastpath
    from ..infer import graphs  # noqa: F401  (the modules with fast paths register them on import)
    from ..layers import lska, sinkhorn  # noqa: F401

    failures = []
    print("fast paths          (each against its reference, on every device)")
    for path in fastpath.all_paths():
        for device in devices:
            outcome = path.verify(device)
            label = f"{path.name} {device}"
            if isinstance(outcome, str):
                _line(label, f"not available ({outcome})", column=30)
            elif outcome.ok:
                _line(label, f"ok: {outcome.describe()}, {outcome.seconds:.2f} s", column=30)
            else:
                _line(label, f"FAILED: {outcome.describe()}", column=30)
                failures.append(label)
    return failures


def _speed(device, seconds: float, model_name: str | None) -> list[str]:
    import torch

    from ..models.resolve import resolve
    from ..registry import create_model

    name = resolve(model_name).name  # the default model's network unless one is named (speed only: no output)
    h, w = SPEED_SIZE.get(device.type, SPEED_SIZE["cuda"])
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(0)
        model = create_model(name).to(device).eval()
        pair = [torch.rand(1, 3, h, w, device=device) for _ in range(2)]
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    try:
        times = []
        start = time.perf_counter()
        with torch.inference_mode():
            while True:
                t0 = time.perf_counter()
                model(*pair)
                sync()
                times.append(time.perf_counter() - t0)
                if time.perf_counter() - start >= seconds:
                    break
    except Exception as exc:  # noqa: BLE001 - reported as a failed check
        from ..fastpath import error_line

        print(f"speed               FAILED on {device}: {error_line(exc)}")
        return [f"speed probe on {device}"]
    # the first run includes one-time costs (fast-path checks, kernel compilation, allocator warm-up)
    steady = times[1:] or times
    per_pair = sorted(steady)[len(steady) // 2]
    print(
        f"speed               {name} (random weights), LR pair {h}x{w}, {device}, fp32, torch threads "
        f"{torch.get_num_threads()}: first run {times[0]:.3f} s, then median {per_pair:.3f} s per pair over "
        f"{len(steady)} run{'s' if len(steady) > 1 else ''} ({2 * h * w / per_pair / 1e3:.1f} k LR pixels/s, both views)"  # noqa: E501
    )
    return []
