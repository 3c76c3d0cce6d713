"""The one region-weighted flow loss (stage 1 and stage 2) and its logging parts."""

import pytest
import torch

from xdub.train.losses import flow_error_logs, region_flow_loss


def test_region_weight_counts_inside_the_region():
    target, pred = torch.zeros(1, 2, 1, 4, 4), torch.ones(1, 2, 1, 4, 4)
    region = torch.zeros(1, 1, 4, 4)  # [B, F, h, w]
    region[..., :2, :] = 1.0  # top half is "mouth"
    assert region_flow_loss(pred, target, region, 1.0).item() == pytest.approx(1.0)
    assert region_flow_loss(pred, target, region, 2.0).item() == pytest.approx(1.5)
    pred_in = torch.zeros_like(pred)
    pred_in[..., :2, :] = 1.0  # error only inside: exactly doubled
    ratio = region_flow_loss(pred_in, target, region, 2.0) / region_flow_loss(pred_in, target,
                                                                               region, 1.0)
    assert ratio.item() == pytest.approx(2.0)


def test_per_sample_region_weight_frame_validity_and_base_weight():
    pred, target = torch.ones(2, 1, 2, 2, 2), torch.zeros(2, 1, 2, 2, 2)
    region = torch.ones(2, 2, 2, 2)
    per = region_flow_loss(pred, target, region, torch.tensor([2.0, 1.0]))
    assert per.tolist() == [2.0, 1.0]  # mouth weighting only for the first (lip-phase) sample
    valid = torch.tensor([[0.0, 1.0], [1.0, 1.0]])  # a clean motion frame carries no loss
    assert region_flow_loss(pred, target, region, 1.0, valid).tolist() == [1.0, 1.0]
    base = torch.full((2, 2, 2, 2), 0.5)
    assert region_flow_loss(pred, target, region, 1.0, None, base).tolist() == [0.5, 0.5]
    with pytest.raises(AssertionError):
        region_flow_loss(pred, target, torch.ones(2, 2, 3, 3), 1.0)


def test_error_logs_are_unweighted():
    pred, target = torch.ones(1, 1, 1, 2, 2), torch.zeros(1, 1, 1, 2, 2)
    region = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
    pred[..., 0, 0] = 3.0
    logs = flow_error_logs(pred, target, region)
    assert logs["mouth_mse"] == pytest.approx(9.0) and logs["mse"] == pytest.approx(3.0)
