"""CUDA graph inference: the replay runner's logic (tested on CPU with a stand-in capture of the same contract:
static buffers rewritten by replay), host-sync detection and fallbacks, same-shape tiles, the CLI option."""

import numpy as np
import pytest
import torch

import msinet
import msinet.infer.upscale as upscale_module
from msinet.cli.main import main
from msinet.infer.graphs import GraphedForward, eager_capture, graphed_model
from msinet.infer.tiling import plan_tile, run_tiled

pytestmark = pytest.mark.usefixtures("one_thread")


def _nafssr():
    torch.manual_seed(0)
    model = msinet.create_model("nafssr_t_x2", num_blocks=2, channels=8).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("beta", "gamma", "scale_l", "scale_r")):
                p.normal_(0, 0.5)
    return model


def _pair(h, w, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, h, w, generator=g), torch.rand(1, 3, h, w, generator=g)


def test_replayed_forward_equals_eager_and_outputs_are_not_the_graph_buffers():
    model = _nafssr()
    notes = []
    graphed = GraphedForward(model, capture_after=2, capture=eager_capture, notify=notes.append)
    with torch.inference_mode():
        results = [(graphed(*_pair(10, 24, s)), model(*_pair(10, 24, s))) for s in range(4)]
    assert graphed.replays == 3 and len(graphed.graphs) == 1 and not notes  # first call eager, then captured
    for got, want in results:  # each result kept its values although later replays rewrote the buffers
        for g, w in zip(got, want):
            torch.testing.assert_close(g, w, rtol=0, atol=1e-6)
    assert not torch.equal(results[1][0][0], results[2][0][0])


def test_one_graph_per_shape_and_least_recently_used_dropped():
    model = _nafssr()
    graphed = GraphedForward(model, capture_after=1, max_graphs=2, capture=eager_capture)
    with torch.inference_mode():
        for h in (8, 10, 12, 8):
            out = graphed(*_pair(h, 16, h))
            assert out[0].shape == (1, 3, 2 * h, 32)
    assert [k[0][0][2] for k in graphed.graphs] == [12, 8]  # 10 was the least recently used


def test_a_forward_that_syncs_with_the_host_stays_eager_with_one_notice():
    def syncing(x, y):
        scale = float(x.abs().max())  # .item(): the host waits for the device
        return x * scale, y

    notes = []
    graphed = GraphedForward(syncing, capture_after=1, capture=eager_capture, notify=notes.append)
    x, y = torch.rand(2, 3), torch.rand(2, 3)
    for _ in range(3):
        out = graphed(x, y)
        torch.testing.assert_close(out[0], x * x.abs().max())
    assert len(notes) == 1 and "_local_scalar_dense" in notes[0] and notes[0].startswith("note: CUDA graphs off")
    assert graphed.disabled and not graphed.graphs


def test_a_failed_capture_falls_back_to_eager():
    def refuse(fn, inputs):
        raise RuntimeError("operation not permitted when stream is capturing\nmore detail")

    notes = []
    model = _nafssr()
    graphed = GraphedForward(model, capture_after=1, capture=refuse, notify=notes.append)
    x = _pair(8, 16, 0)
    with torch.inference_mode():
        torch.testing.assert_close(graphed(*x)[0], model(*x)[0])
    assert notes == [
        "note: CUDA graphs off, running eagerly: capture failed (operation not permitted when stream is capturing)"
    ]


@pytest.mark.parametrize("height,tile_rows,context", [(37, 8, 3), (20, 8, 30), (16, 16, 2), (9, 4, 0)])
def test_same_shape_tiles_cover_the_rows_exactly_once(height, tile_rows, context):
    start, cores, shapes = 0, [], set()
    while start < height:
        tile = plan_tile(height, start, tile_rows, context, same_shape=True)
        assert 0 <= tile.in0 <= tile.core0 < tile.core1 <= tile.in1 <= height
        assert tile.core0 - tile.in0 >= min(context, tile.core0)  # never less context than the plain plan
        shapes.add(tile.in1 - tile.in0)
        cores.append((tile.core0, tile.core1))
        start = tile.core1
    assert shapes == {min(height, tile_rows + 2 * context)}
    assert [c for a, b in cores for c in range(a, b)] == list(range(height))


def test_same_shape_tiling_of_a_local_model_equals_the_whole_image():
    bicubic = msinet.create_model("bicubic_x2").eval()
    left, right = _pair(29, 20, 3)
    seen = set()

    def tile_fn(lb, rb):
        seen.add(lb.shape)
        return bicubic(lb, rb)

    with torch.inference_mode():
        whole = bicubic(left, right)
        tiled = run_tiled(tile_fn, left, right, 8, 3, torch.device("cpu"), same_shape=True)
    assert seen == {(1, 3, 14, 20)}
    for t, w in zip(tiled, whole):
        torch.testing.assert_close(t, w, rtol=0, atol=1e-6)


def test_upscale_pair_through_graph_replay_equals_eager_with_the_same_bands(monkeypatch):
    model = _nafssr()
    left, right = (x[0].permute(1, 2, 0).numpy() for x in _pair(30, 24, 5))
    runners = []

    def fake_graphs(replay: bool):
        def make(m, device, mode):
            runners.append(GraphedForward(m, capture_after=1 if replay else 10**9, capture=eager_capture))
            return runners[-1]

        return make

    results = {}
    for replay in (False, True):
        monkeypatch.setattr(upscale_module, "graphed_model", fake_graphs(replay))
        results[replay] = msinet.infer.upscale_pair(model, left, right, tile=8, context=4, device="cpu")
    assert runners[0].replays == 0 and runners[1].replays == 4  # 30 rows: 4 tiles of 16 rows
    for a, b in zip(results[True], results[False]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
    assert results[True][0].shape == (30 * 2, 24 * 2, 3)


def test_graphs_are_eager_on_cpu_and_the_option_is_checked(tmp_path, capsys):
    model = _nafssr()
    assert graphed_model(model, torch.device("cpu"), "auto") is None
    notes = []
    assert graphed_model(model, torch.device("cpu"), "on", notify=notes.append) is None
    assert notes == ["note: CUDA graphs need a CUDA device; running eagerly on cpu"]
    with pytest.raises(ValueError, match="cuda_graphs must be one of auto, on, off"):
        msinet.infer.upscale_pair(model, *_pair(8, 8, 0), cuda_graphs="yes")
    # with graphs asked for on a CPU, the CLI says so in one line and writes the same images as eager
    from PIL import Image

    for side, x in zip("LR", _pair(12, 20, 7)):
        Image.fromarray((x[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(tmp_path / f"p_{side}.png")
    weights = tmp_path / "m.safetensors"
    msinet.save_weights(model, weights)
    outs = {}
    for mode in ("on", "off"):
        args = [
            "upscale",
            str(tmp_path / "p_L.png"),
            str(tmp_path / "p_R.png"),
            "--model",
            str(weights),
            "-o",
            str(tmp_path / mode),
            "--device",
            "cpu",
            "--cuda-graphs",
            mode,
            "-q",
        ]
        assert main(args) == 0
        outs[mode] = np.asarray(Image.open(tmp_path / mode / "p_L.png"))
    assert capsys.readouterr().err.strip() == "note: --cuda-graphs needs a CUDA device; running eagerly on cpu"
    assert np.array_equal(outs["on"], outs["off"])


@pytest.mark.parametrize("name,options", [("nafssr_t", {}), ("msinet_tiny_x4", {"sinkhorn_method": "log"})])
def test_capturable_models_pass_the_host_sync_probe(name, options):
    """NAFSSR and MSINet with the log-domain Sinkhorn never wait for the device inside their forward."""
    from msinet.infer.graphs import HostSyncWatch

    model = msinet.create_model(name, num_blocks=2, **options).eval()
    watch = HostSyncWatch()
    with torch.inference_mode(), watch:
        model(*_pair(20, 40, 0))
    assert watch.seen == []
    with watch:  # and the probe does see a host read
        float(torch.ones(2).sum())
    assert watch.seen == ["aten::_local_scalar_dense"]


def test_graphs_are_dropped_when_the_weights_change():
    model = _nafssr()
    first = graphed_model(model, torch.device("cpu"), "auto", capture=eager_capture)
    assert graphed_model(model, torch.device("cpu"), "auto", capture=eager_capture) is first
    model.load_state_dict({k: v + 0.01 for k, v in model.state_dict().items()})  # in place: same storages
    assert graphed_model(model, torch.device("cpu"), "auto", capture=eager_capture) is not first
