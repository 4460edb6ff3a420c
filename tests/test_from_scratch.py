import pytest
import torch
import torch.nn.functional as F

from course_lib.baselines.from_scratch import fit_from_scratch
from course_lib.nets import MLP


def test_fits_its_few_points_but_not_the_function():
    torch.manual_seed(0)
    x = torch.linspace(-5, 5, 5).view(-1, 1)
    y = 3 * torch.sin(x)
    model = fit_from_scratch(lambda: MLP((1, 40, 40, 1)), x, y, loss_fn=F.mse_loss, steps=400, lr=1e-2)
    with torch.no_grad():
        train_mse = F.mse_loss(model(x), y).item()
        dense = torch.linspace(-5, 5, 200).view(-1, 1)
        test_mse = F.mse_loss(model(dense), 3 * torch.sin(dense)).item()
    assert train_mse < 0.05
    assert test_mse > 10 * train_mse


def test_bad_arguments():
    x, y = torch.zeros(3, 1), torch.zeros(3, 1)
    with pytest.raises(ValueError, match="steps"):
        fit_from_scratch(lambda: MLP(), x, y, loss_fn=F.mse_loss, steps=0)
    with pytest.raises(ValueError, match="lr"):
        fit_from_scratch(lambda: MLP(), x, y, loss_fn=F.mse_loss, lr=-1.0)
    with pytest.raises(ValueError, match="same non-zero number"):
        fit_from_scratch(lambda: MLP(), x, torch.zeros(2, 1), loss_fn=F.mse_loss)
