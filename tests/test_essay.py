"""The essay's worked examples, to the digits it prints, computed by the project's own code (src.essay)."""

import pytest
from runs import run_module

from src import essay
from src.network.mlp import MLP


@pytest.mark.parametrize(
    ("x", "bias", "value"),
    [
        (1, None, 0.7311),
        (1, -5, 0.0180),
        (-5, None, 0.0067),
        (-5, -5, 0.0),  # ≈ 0
        (10, None, 1.0),  # ≈ 1
        (10, -5, 0.9933),
    ],
)
def test_sigmoid_with_and_without_bias(x: float, bias: float | None, value: float) -> None:
    assert round(essay.activate("sigmoid", x, bias), 4) == value


@pytest.mark.parametrize(
    ("x", "bias", "value"), [(3, None, 3), (3, -5, 0), (4.99, -5, 0), (-4, None, 0), (-4, 5, 1)]
)
def test_relu_bias_is_a_threshold(x: float, bias: float | None, value: float) -> None:
    assert essay.activate("relu", x, bias) == pytest.approx(value)


def test_output_layer_forward_pass() -> None:
    layer = essay.output_layer()
    assert [round(v, 5) for v in layer.weighted] == [-0.69696, -1.95847]
    assert [round(v, 5) for v in layer.activation_sum] == [0.18704, -2.18447]
    assert [round(v, 3) for v in layer.output] == [0.547, 0.101]


def test_output_layer_gradient_is_the_chain_rule() -> None:
    a1, a2 = essay.output_layer().output
    grad = essay.output_layer_gradient()
    assert grad.cost == pytest.approx((a1 - 1) ** 2 + (a2 - 1) ** 2)
    delta = 2 * (a1 - 1) * a1 * (1 - a1)  # dC/dAS_1^3 = dC/da * S'(AS)
    assert grad.bias[0] == pytest.approx(delta)
    assert grad.weight[0] == pytest.approx([delta * a for a in essay.L_2])


def test_chain_rule_factors() -> None:
    chain = essay.chain_rule()
    assert chain.activation_sum == pytest.approx(0.5)
    assert round(chain.output, 4) == 0.6225
    assert round(chain.dcost_doutput, 3) == -0.755
    assert round(chain.doutput_dsum, 3) == 0.235
    assert chain.dsum_dweight == pytest.approx(0.8)
    assert round(chain.rounded_product, 3) == -0.142
    assert round(chain.product, 3) == -0.142
    assert chain.output_error == pytest.approx(chain.dcost_doutput * chain.doutput_dsum)


def test_backpropagation_gradient_matches_the_chain_rule() -> None:
    chain = essay.chain_rule()
    assert round(chain.backprop, 3) == -0.142
    assert chain.backprop == pytest.approx(chain.product, rel=1e-12)
    assert chain.backprop == pytest.approx(chain.rounded_product, abs=5e-5)  # only the factors' rounding


def test_weight_update() -> None:
    assert round(essay.gradient_step(0.15, 0.05, -0.142), 4) == 0.1571
    assert round(essay.gradient_step(essay.W_11, essay.RATE, essay.chain_rule().backprop), 4) == 0.1571


def test_weight_update_is_not_the_essays_slip() -> None:
    assert essay.ESSAY_UPDATE == 0.1271
    assert essay.gradient_step(0.15, 0.05, -0.142) != pytest.approx(0.1271, abs=1e-3)


def test_parameter_count_784_16_16_10() -> None:
    per_layer, total = essay.parameter_count((784, 16, 16, 10))
    assert per_layer == [(784, 16, 784 * 16 + 16), (16, 16, 16 * 16 + 16), (16, 10, 16 * 10 + 10)]
    assert total == 13_002
    assert MLP([784, 16, 16, 10]).params.numel() == 13_002


@pytest.mark.slow
def test_script_prints_the_essays_numbers() -> None:
    result = run_module("src.essay")
    assert result.returncode == 0, result.stderr
    for figure in ["0.7311", "0.0180", "0.0067", "0.9933", "0.18704", "-2.18447", "0.547", "0.101"]:
        assert figure in result.stdout
    for figure in ["-0.755", "0.235", "-0.142", "0.1571", "0.1271", "13,002"]:
        assert figure in result.stdout


def test_script_refuses_arguments_it_would_ignore(capsys) -> None:
    from src.essay import main

    with pytest.raises(SystemExit) as stop:
        main(["extra=1"])
    assert stop.value.code == 2
    assert capsys.readouterr() == (
        "",
        "error: extra=1: python -m src.essay takes no arguments (it prints the essay's examples)\n",
    )
