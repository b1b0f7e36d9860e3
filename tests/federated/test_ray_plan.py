"""Rewriting a map call for Ray: shared objects once, clients by key (no Ray needed)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from federated._ray_plan import PlacedClient, SharedSlot, is_client, plan_call, resolve
from federated._ray_worker import ClientHost
from federated.ray_executor import gpu_share
from tests.federated._linear import LinearClient, make_clients


def _registry() -> tuple[dict[int, object], object]:
    keys: dict[int, int] = {}
    by_key: dict[int, object] = {}

    def key_of(client: object) -> int:
        if id(client) not in keys:
            keys[id(client)] = len(keys)
            by_key[keys[id(client)]] = client
        return keys[id(client)]

    return by_key, key_of


@given(
    picks=st.lists(st.integers(0, 9), min_size=1, max_size=30),
    extra=st.lists(st.integers(-5, 5), min_size=1, max_size=30),
)
def test_resolve_inverts_plan_and_ships_each_client_and_model_once(
    picks: list[int], extra: list[int]
) -> None:
    clients = make_clients(10, examples=3)
    model = np.arange(2, dtype=np.float64)
    items = [(clients[p], model, extra[i % len(extra)]) for i, p in enumerate(picks)]
    by_key, key_of = _registry()
    plan = plan_call(items, key_of)  # type: ignore[arg-type]
    # the model is shipped once when shared, and never a client or a small scalar
    assert len(plan.shared) == (1 if len(items) > 1 else 0)
    assert all(s is model for s in plan.shared)
    # every distinct client gets exactly one key, used by all its tasks
    assert len(by_key) == len(set(picks))
    for item, key in zip(items, plan.client_keys, strict=True):
        assert key is not None
        assert by_key[key] is item[0]
    for item, template in zip(items, plan.templates, strict=True):
        assert isinstance(template, tuple)
        assert isinstance(template[0], PlacedClient)
        rebuilt = resolve(template, plan.shared, by_key)
        assert isinstance(rebuilt, tuple)
        assert rebuilt[0] is item[0]
        np.testing.assert_array_equal(rebuilt[1], model)
        assert rebuilt[2] == item[2]


def test_shared_array_is_a_private_writable_copy_per_task() -> None:
    model = np.zeros(3)
    model.setflags(write=False)  # as an array read from the object store is
    plan = plan_call([(1.0, model), (2.0, model)], lambda c: 0)
    assert plan.shared == (model,)
    assert plan.templates == ((1.0, SharedSlot(0)), (2.0, SharedSlot(0)))
    first = resolve(plan.templates[0], plan.shared, {})
    second = resolve(plan.templates[1], plan.shared, {})
    assert isinstance(first, tuple)
    assert isinstance(second, tuple)
    first[1][0] = 5.0  # writable, and not seen by the other task
    assert second[1][0] == 0.0
    assert model[0] == 0.0


def test_bare_items_and_unshared_elements_stay_inline() -> None:
    client = make_clients(1, examples=2)[0]
    by_key, key_of = _registry()
    plan = plan_call([client, 7, "x"], key_of)  # type: ignore[arg-type]
    assert plan.templates == (PlacedClient(0), 7, "x")
    assert plan.client_keys == (0, None, None)
    assert plan.shared == ()
    assert resolve(plan.templates[0], (), by_key) is client


def test_is_client_recognises_the_client_protocol_only() -> None:
    assert is_client(make_clients(1, examples=2)[0])
    assert not is_client(LinearClient)  # the class is not a client
    assert not is_client(np.zeros(2))
    assert not is_client((1, 2))


def test_client_host_places_privately_and_runs_chunks_in_place() -> None:
    host = ClientHost()
    client = make_clients(1, examples=4)[0]
    client.x.setflags(write=False)
    assert host.place([3], client) == 1
    model = np.ones(2)
    out = host.run(lambda item: item[0].fit(item[1]).delta, [(5, (PlacedClient(3), model))])
    assert [p for p, _ in out] == [5]
    np.testing.assert_allclose(out[0][1], client.fit(model).delta)
    assert host.forget([3, 99]) == 0
    assert host.ready() > 0


@given(
    gpus=st.sampled_from([0.0, 1.0, 2.0, 8.0]),
    workers=st.integers(1, 64),
)
def test_default_gpu_share_never_oversubscribes(gpus: float, workers: int) -> None:
    share = gpu_share(gpus, workers, None)
    assert 0.0 <= share <= 1.0
    assert share * workers <= gpus + 1e-9  # the workers fit on the cluster's GPUs
    assert (share > 0) == (gpus > 0)
    assert gpu_share(gpus, workers, 0.25) == 0.25  # an explicit request wins
