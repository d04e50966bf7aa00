"""adain_lesson.device: the one device resolver and the one timer, used by every caller."""

from __future__ import annotations

import pytest
import torch

from adain_lesson import device
from adain_lesson.errors import UserError


def test_every_caller_resolves_devices_the_same_way() -> None:
    from adain_lesson import bench, gatys, train

    assert device.resolve_device("auto") == device.resolve_device(None) == device.default_device()
    cfg = train.TrainConfig(device="auto")  # training once called "auto" an unknown device
    assert train._device(cfg, train._Dist()) == device.default_device()
    for bad in ("gpu", "cuda:99" if torch.cuda.is_available() else "cuda:0"):
        with pytest.raises(UserError) as direct:
            device.resolve_device(bad)
        with pytest.raises(UserError) as via_train:
            train._device(train.TrainConfig(device=bad), train._Dist())
        with pytest.raises(UserError) as via_gatys:
            gatys.gatys_encoder("random", bad)
        with pytest.raises(UserError) as via_bench:
            bench.run_benchmark(devices=[bad], quick=True)
        assert str(direct.value) == str(via_train.value) == str(via_gatys.value) == str(via_bench.value)


def test_seconds_synchronises_and_median_seconds_takes_the_median(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bool] = []
    assert device.seconds(lambda: calls.append(torch.is_inference_mode_enabled()), "cpu") >= 0.0
    measured = iter([0.3, 0.1, 0.2])  # what each timed call "took": no clock in the test
    monkeypatch.setattr(device, "seconds", lambda fn, dev: (fn(), next(measured))[1])
    record = lambda: calls.append(torch.is_inference_mode_enabled())  # noqa: E731
    assert device.median_seconds(record, "cpu", runs=3, warmup=2) == 0.2
    assert calls == [False] + [True] * 5  # 2 untimed + 3 timed calls, in inference mode
