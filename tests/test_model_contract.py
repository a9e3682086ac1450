"""One contract over every registered model: what msinet promises of any network, whichever family it is.

Per-family tests (test_peer_*.py, test_models.py) keep only what is particular to a family: exactness against
the authors' outputs, published parameter counts, its own options.
"""

from __future__ import annotations

import copy
import functools

import pytest
import torch
from model_checks import assert_round_trip

import msinet
from msinet.models.foreign import model_from_state, read_checkpoint
from msinet.models.pretrained import weights_table
from msinet.models.resolve import canonical_name, variant_for_scale
from msinet.models.weights import WeightsError, load_state_strict
from msinet.registry import aliases, families, family_of, get_entry, list_models, network_class

pytestmark = pytest.mark.usefixtures("one_thread")

MODELS = list_models(canonical=True)
SIZE = (12, 21)  # LR rows, columns (odd, and not a multiple of EHFSSR's 16x16 windows: they pad)


def _pair(batch=1, size=SIZE, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, *size, generator=g), torch.rand(batch, 3, *size, generator=g)


@functools.cache
def _perturbed_model(name: str) -> torch.nn.Module:
    model = msinet.create_model(name)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    return model


def _perturbed(name: str) -> torch.nn.Module:
    """The model with every parameter moved off its initialisation (zero-initialised residual scales would
    otherwise hide whole branches from the gradient and the outputs); a fresh copy per test."""
    return copy.deepcopy(_perturbed_model(name))


@pytest.mark.parametrize("name", MODELS)
def test_shapes_scale_and_batch_independence(name):
    model = _perturbed(name).eval()
    entry = get_entry(name)
    assert model.scale == entry.scale and model.config["scale"] == entry.scale
    left, right = _pair(batch=2)
    with torch.no_grad():
        batched = model(left, right)
        single = model(left[1:], right[1:])
    for out, alone in zip(batched, single):
        assert out.shape == (2, 3, SIZE[0] * model.scale, SIZE[1] * model.scale)
        assert torch.isfinite(out).all()
        torch.testing.assert_close(out[1:], alone, atol=1e-5, rtol=0)  # a pair's output is its own
    with torch.no_grad():
        tiny = model(*_pair(size=(5, 7)))  # smaller than any window, pooling or attention span
    assert all(t.shape == (1, 3, 5 * model.scale, 7 * model.scale) and torch.isfinite(t).all() for t in tiny)


@pytest.mark.parametrize("name", MODELS)
def test_declared_blocks_run_as_declared(name):
    """The progress bar within a tile and the trainer's memory estimate rely on repeated_blocks() and
    block_applications(): every declared block runs, block_applications() times in all per forward."""
    model = _perturbed(name).eval()
    calls = []
    hooks = [
        b.register_forward_hook(lambda m, i, o, k=k: calls.append(k)) for k, b in enumerate(model.repeated_blocks())
    ]
    with torch.no_grad():
        model(*_pair(size=(6, 9)))
    for hook in hooks:
        hook.remove()
    assert len(calls) == model.block_applications()
    assert set(calls) == set(range(len(model.repeated_blocks())))


@pytest.mark.parametrize("name", MODELS)
def test_save_load_round_trip_keeps_config_and_outputs(name, tmp_path):
    assert_round_trip(_perturbed(name), tmp_path)


@pytest.mark.parametrize("name", [n for n in MODELS if get_entry(n).family != "bicubic"])
def test_gradients_reach_every_parameter(name):
    model = _perturbed(name).train()
    model.drop_path_rate = 0.0  # every block runs
    sr_left, sr_right = model(*_pair(size=(9, 13)))
    (sr_left.square().mean() + sr_right.abs().mean()).backward()
    dead = {k for k, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0}
    assert dead == model.unused_parameters(), f"{name}: no gradient reaches {sorted(dead)[:3]}"


@pytest.mark.parametrize("name", [n for n in MODELS if network_class(n).view_symmetric])
def test_symmetric_networks_swap_outputs_with_views(name):
    model = _perturbed(name).eval()
    left, right = _pair()
    with torch.no_grad():
        a_left, a_right = model(left, right)
        b_left, b_right = model(right, left)
    torch.testing.assert_close(a_left, b_right, atol=1e-5, rtol=0)
    torch.testing.assert_close(a_right, b_left, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", [n for n in MODELS if network_class(n).exact_tiling])
def test_exactly_tiled_networks_tile_exactly(name):
    model = _perturbed(name).eval()
    left, right = _pair(size=(40, 24))
    whole = msinet.upscale(model, left, right, tile=None)
    tiled = msinet.upscale(model, left, right, tile=8, context=model.tile_context())
    for a, b in zip(whole, tiled):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", [n for n in MODELS if get_entry(n).family != "bicubic"])
def test_damaged_or_mismatched_weights_are_refused_naming_the_key(name):
    model = _perturbed_model(name)
    state = dict(model.state_dict())
    first, last = next(iter(state)), next(reversed(state))
    for damaged, key in (({**state, first: state[first].flatten()[1:]}, first), (dict(list(state.items())[:-1]), last)):
        with pytest.raises(WeightsError) as info:
            load_state_strict(copy.deepcopy(model), damaged, "weights.safetensors")
        message = str(info.value)
        assert "\n" not in message and message.startswith("weights.safetensors: ") and repr(key) in message


# ---- the family descriptors ----------------------------------------------------------------------------------


def test_every_name_belongs_to_one_family_and_aliases_are_declared():
    for name in list_models():
        entry = get_entry(name)
        size = next(s for s in family_of(name).sizes if s.name == entry.canonical)
        assert name == size.name or name in size.aliases
        assert canonical_name(name) == size.name
        assert set(aliases(size.name)) == set(size.aliases)
    names = [n for f in families() for s in f.sizes for n in (s.name, *s.aliases)]
    assert len(names) == len(set(names)) == len(list_models())


def test_scale_variants_stay_in_their_family_and_size():
    for family in families():
        for size in family.sizes:
            for other in family.sizes:
                if other.variant == size.variant:
                    assert variant_for_scale(size.name, other.scale) == other.name
    with pytest.raises(ValueError, match="no x2 variant of 'nafrssr_t_x4'"):
        variant_for_scale("nafrssr_t", 2)


def test_weights_records_are_keyed_by_canonical_names():
    canonical = set(MODELS)
    assert set(weights_table()) <= canonical
    for name, record in weights_table().items():
        assert record.scale == get_entry(name).scale
        for alias in aliases(name):
            assert msinet.models.pretrained.record_for(alias) is record


@pytest.mark.parametrize("name", [n for n in MODELS if family_of(n).adapter is not None])
def test_adapter_round_trip_through_the_authors_layout(name):
    """Our weights under the authors' key names (their_key) load back through the family's adapter: recognised
    as this family only, inspected as this size, every tensor in its place."""
    family, model = family_of(name), _perturbed(name)
    ours = model.state_dict()
    theirs = {family.adapter.their_key(k, model.config): v for k, v in ours.items()}
    assert len(theirs) == len(ours)  # one authors' key per key of ours
    matched = [f.name for f in families() if f.adapter is not None and f.adapter.matches(theirs)]
    # MSINet's ablations without the multi-scale attention are NAFBlock networks: the NAFSSR code's layout
    assert matched == ["nafssr" if name.startswith("msinet") and not model.config["multiscale"] else family.name]
    loaded = model_from_state(theirs, name)
    assert type(loaded) is type(model)
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, ours[key]), key


def test_every_authors_file_here_is_claimed_by_its_family_only(shared_peers):
    """The released checkpoints and the architecture references (../shared/peers, peers/arch): each one's
    keys match exactly one family's adapter, the family its registry name belongs to."""
    paths = sorted([*shared_peers.glob("*.pth"), *(shared_peers / "arch").glob("*.pth")])
    assert len(paths) >= 10
    for path in paths:
        state = read_checkpoint(path)
        name = path.stem.removesuffix("_random")
        claimed = [f.name for f in families() if f.adapter is not None and f.adapter.matches(state)]
        assert claimed == [family_of(name).name], path.name


def test_shipped_weights_carry_current_option_names():
    """Files inside the package hold configs under today's option names: dropping an old name's shim
    (registry.RENAMED_OPTIONS) can never break the default model."""
    from msinet.models.pretrained import WEIGHTS_DIR
    from msinet.models.weights import config_of, read_safetensors
    from msinet.registry import RENAMED_OPTIONS, same_architecture

    shipped = [r for r in weights_table().values() if r.source == "shipped"]
    assert shipped
    for record in shipped:
        path = WEIGHTS_DIR / record.file
        config = config_of(read_safetensors(path)[1], path)
        assert not set(config) & set(RENAMED_OPTIONS), (record.name, sorted(set(config) & set(RENAMED_OPTIONS)))
        assert same_architecture(config, record.name)
