"""Steer, Ablate and Cap: exact maths on small tensors, plain forwards of a model under
``intervene``, gradients in training, and clear errors."""

import pytest
import torch

from drosophila.errors import ConfigError
from drosophila.interventions import Ablate, Cap, Steer, hooks, intervene

D = 8
NAME = "blocks.1.hook_resid_post"


@pytest.fixture
def h():
    return torch.randn(3, 5, D, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


@pytest.fixture
def v():
    return torch.randn(D, generator=torch.Generator().manual_seed(1), dtype=torch.float64)




# -- maths on tensors ----------------------------------------------------------------------------
def test_steer_adds_exactly_c_times_v(h, v):
    assert torch.equal(Steer({NAME: v}, coef=2.5).edit(NAME)(h), h + 2.5 * v)
    per_layer = Steer({NAME: v, "blocks.0.hook_resid_post": v}, coef={NAME: -3.0})
    assert torch.equal(per_layer.edit(NAME)(h), h + -3.0 * v)
    assert torch.equal(per_layer.edit("blocks.0.hook_resid_post")(h), h + 1.0 * v)  # default 1


def test_ablation_leaves_nothing_along_the_direction(h, v):
    u = v / v.norm()
    out = Ablate({NAME: 7 * v}).edit(NAME)(h)                 # the norm of v does not matter
    assert torch.allclose(out @ u, torch.zeros(3, 5, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(out, h - (h @ u)[..., None] * u, atol=1e-12)   # the rest is kept


@pytest.mark.parametrize("bound", ["floor", "ceiling"])
def test_capping_clamps_the_projection_and_keeps_the_rest(h, v, bound):
    u = v / v.norm()
    p = h @ u                                                  # (3, 5)
    tau = float(p.median())
    out = Cap({NAME: v}, tau=tau, bound=bound).edit(NAME)(h)
    q = out @ u
    inside = p >= tau if bound == "floor" else p <= tau
    assert inside.any() and (~inside).any()
    assert torch.equal(out[inside], h[inside])                 # already within the cap: untouched
    assert torch.allclose(q[~inside], torch.full_like(q[~inside], tau), atol=1e-12)  # moved onto tau
    assert (q >= tau - 1e-12).all() if bound == "floor" else (q <= tau + 1e-12).all()
    ortho = lambda x: x - (x @ u)[..., None] * u               # noqa: E731
    assert torch.allclose(ortho(out), ortho(h), atol=1e-12)    # only the projection moved


def test_positions_response_and_masks(h, v):
    last = Steer({NAME: v}, coef=1.0, positions="response").edit(NAME)(h)
    assert torch.equal(last[:, :-1], h[:, :-1]) and torch.equal(last[:, -1], h[:, -1] + v)
    mask = torch.tensor([0, 0, 1, 1, 0], dtype=torch.bool)
    masked = Ablate({NAME: v}, positions=mask).edit(NAME)(h)
    assert torch.equal(masked[:, ~mask], h[:, ~mask])
    assert torch.allclose(masked[:, mask] @ (v / v.norm()), torch.zeros(3, 2, dtype=torch.float64), atol=1e-12)
    rows = torch.zeros(3, 5, dtype=torch.bool)
    rows[1, 4] = True
    one = Steer({NAME: v}, coef=2.0, positions=rows).edit(NAME)(h)
    assert torch.equal(one[rows], h[rows] + 2.0 * v) and torch.equal(one[~rows], h[~rows])
    with pytest.raises(ConfigError, match="does not fit"):
        Steer({NAME: v}, positions=mask).edit(NAME)(h[:, :3])


def test_cap_at_quantile(v):
    acts = torch.randn(200, D, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    cap = Cap.at_quantile({NAME: v}, {NAME: acts}, 0.25)
    proj = acts @ (v / v.norm())
    assert cap.tau[NAME] == pytest.approx(float(torch.quantile(proj, 0.25)))
    assert float((proj < cap.tau[NAME]).double().mean()) == pytest.approx(0.25, abs=0.01)


def test_half_precision_activations_stay_in_their_dtype(v):
    h = torch.randn(2, 3, D).to(torch.bfloat16)
    out = Cap({NAME: v}, tau=1.0).edit(NAME)(h)
    assert out.dtype == torch.bfloat16
    assert ((out.float() @ (v.float() / v.float().norm())) >= 1.0 - 0.05).all()


# -- on a model ----------------------------------------------------------------------------------
def _by_hand(model, ids, name, fn):
    with torch.no_grad(), hooks(model, {name: fn}):
        return model(ids).logits


@pytest.mark.parametrize("name", ["embed", "blocks.0.hook_resid_pre", "blocks.1.hook_attn_out",
                                  "blocks.1.hook_mlp_out", "blocks.2.hook_resid_post"])
def test_intervene_acts_in_a_plain_forward_and_then_leaves(model, name):
    ids = torch.tensor([[5, 6, 7, 8], [9, 10, 11, 12]])
    vec = torch.randn(32, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        plain = model(ids).logits
        with intervene(model, Steer({name: vec}, coef=3.0)):
            steered = model(ids).logits
        after = model(ids).logits
    assert torch.equal(steered, _by_hand(model, ids, name, lambda x: x + 3.0 * vec))
    assert not torch.allclose(plain, steered) and torch.equal(plain, after)


def test_several_interventions_compose_in_order(model):
    ids = torch.tensor([[5, 6, 7, 8]])
    v = torch.randn(32, generator=torch.Generator().manual_seed(4))
    u = v / v.norm()
    with torch.no_grad(), intervene(model, Steer({NAME: v}, coef=5.0), Ablate({NAME: v})):
        got = model(ids).logits
    want = _by_hand(model, ids, NAME, lambda x: (x + 5.0 * v) - ((x + 5.0 * v) @ u)[..., None] * u)
    assert torch.allclose(got, want, atol=1e-5)


def test_gradients_flow_through_interventions(model):
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    v = torch.randn(32, generator=torch.Generator().manual_seed(5), requires_grad=True)
    model.train()
    ivs = (Steer({"blocks.0.hook_resid_post": v}, coef=2.0), Ablate({NAME: v.detach()}),
           Cap({"blocks.2.hook_resid_post": v.detach()}, tau=1.0))
    with intervene(model, *ivs):
        loss = model(ids, labels=ids).loss
    loss.backward()
    assert v.grad is not None and v.grad.abs().sum() > 0                # a learnable steering vector
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert model.model.layers[0].mlp.down_proj.weight.grad.abs().sum() > 0   # through the ablation


# -- errors --------------------------------------------------------------------------------------
def test_bad_hook_names_and_sizes_are_refused(model):
    with pytest.raises(ConfigError, match="blocks.0.hook_resid_post"):
        with intervene(model, Steer({"blocks.7.hook_resid_post": torch.ones(32)})):
            pass
    with pytest.raises(ConfigError, match="hook_nothing"):
        with intervene(model, Steer({"blocks.0.hook_nothing": torch.ones(32)})):
            pass
    with pytest.raises(ConfigError, match="hidden size is 32"):
        with intervene(model, Ablate({NAME: torch.ones(31)})):
            pass
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())  # nothing left


def test_bad_fields_are_refused(v):
    with pytest.raises(ConfigError, match="1-D"):
        Steer({NAME: torch.ones(2, D)})
    with pytest.raises(ConfigError, match="at least one"):
        Steer({})
    with pytest.raises(ConfigError, match="floor"):
        Cap({NAME: v}, tau=0.0, bound="below")
    with pytest.raises(ConfigError, match="positions"):
        Steer({NAME: v}, positions="prompt")
    with pytest.raises(ConfigError, match="without a vector"):
        Steer({NAME: v}, coef={"blocks.0.hook_resid_post": 1.0})
    with pytest.raises(ConfigError, match="no direction"):
        Ablate({NAME: torch.zeros(D)}).edit(NAME)(torch.ones(1, 1, D))
