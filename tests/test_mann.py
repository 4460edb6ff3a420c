"""Tests of the memory-augmented network: addressing, LRUA writes, shapes, errors, learning."""

import pytest
import torch
import torch.nn.functional as F

from course_lib.algorithms.mann import MANN
from course_lib.algorithms.mann_addressing import (
    content_read,
    content_read_weights,
    cosine_similarity,
    least_used,
    lrua_write,
    lrua_write_weights,
    update_usage,
)
from course_lib.data.label_delay import PrototypeSequenceSampler, delayed_one_hot
from course_lib.experiments.label_delay import (
    SANTORO_2016_TABLE1,
    DownsampleFlatten,
    compare_with_published,
    evaluate_sequences,
    sequence_step,
)


def test_cosine_similarity_matches_torch():
    g = torch.Generator().manual_seed(0)
    keys, memory = torch.randn(2, 3, 5, generator=g), torch.randn(2, 7, 5, generator=g)
    expected = F.cosine_similarity(keys.unsqueeze(2), memory.unsqueeze(1), dim=-1)
    assert torch.allclose(cosine_similarity(keys, memory), expected, atol=1e-6)


def test_read_weights_sum_to_one_and_point_at_the_matching_slot():
    g = torch.Generator().manual_seed(1)
    memory = torch.randn(4, 10, 6, generator=g)
    keys = memory[:, [3, 7]] * 2.0 + 0.01 * torch.randn(4, 2, 6, generator=g)   # scaled copies
    for strength in (None, torch.full((4, 2), 20.0)):
        weights = content_read_weights(keys, memory, strength)
        assert weights.shape == (4, 2, 10)
        assert torch.allclose(weights.sum(-1), torch.ones(4, 2), atol=1e-6)
        assert (weights >= 0).all()
        assert weights.argmax(-1).tolist() == [[3, 7]] * 4
    sharp = content_read_weights(keys, memory, torch.full((4, 2), 20.0))
    soft = content_read_weights(keys, memory)
    assert (sharp.max(-1).values > soft.max(-1).values).all()
    # without a key strength the weights are the paper's softmax of raw cosines
    assert torch.allclose(soft, torch.softmax(cosine_similarity(keys, memory), -1))


def test_least_used_on_hand_made_usage():
    usage = torch.tensor([[0.9, 0.1, 0.5, 0.3, 2.0],
                          [0.0, 0.0, 1.0, 0.0, 0.5]])
    assert least_used(usage, 1).tolist() == [[0, 1, 0, 0, 0], [1, 0, 0, 0, 0]]
    assert least_used(usage, 2).tolist() == [[0, 1, 0, 1, 0], [1, 1, 0, 0, 0]]
    assert least_used(usage, 3).tolist() == [[0, 1, 1, 1, 0], [1, 1, 0, 1, 0]]


@pytest.mark.parametrize("n", [0, 6])
def test_least_used_rejects_impossible_n(n):
    with pytest.raises(ValueError, match="n must be in 1..5"):
        least_used(torch.rand(2, 5), n)


def test_lrua_write_weights_follow_the_gate():
    read = torch.softmax(torch.randn(2, 3, 6), -1)
    lu = least_used(torch.rand(2, 6), 3)
    assert torch.allclose(lrua_write_weights(torch.full((2, 3), 30.0), read, lu), read, atol=1e-6)
    only_lu = lrua_write_weights(torch.full((2, 3), -30.0), read, lu)
    assert torch.allclose(only_lu, lu.unsqueeze(1).expand(2, 3, 6), atol=1e-6)
    half = lrua_write_weights(torch.zeros(2, 3), read, lu)
    assert torch.allclose(half, 0.5 * read + 0.5 * lu.unsqueeze(1))


def test_usage_update_equation():
    prev = torch.tensor([[1.0, 0.0, 2.0]])
    read = torch.tensor([[[0.2, 0.3, 0.5]]])
    write = torch.tensor([[[0.0, 1.0, 0.0]]])
    expected = torch.tensor([[0.95 + 0.2, 0.3 + 1.0, 1.9 + 0.5]])
    assert torch.allclose(update_usage(prev, read, write, 0.95), expected)


def _model(**kw):
    torch.manual_seed(0)
    args = dict(input_size=6, n_way=3, controller_size=16, memory_slots=8, memory_width=5, num_reads=2)
    args.update(kw)
    return MANN(**args)


def test_forward_shapes_and_trace():
    model = _model()
    x, labels = torch.randn(4, 9, 6), torch.randint(0, 3, (4, 9))
    logits, trace = model(x, delayed_one_hot(labels, 3), return_trace=True)
    assert logits.shape == (4, 9, 3)
    assert trace.read_weights.shape == trace.write_weights.shape == (4, 9, 2, 8)
    assert trace.usage.shape == (4, 9, 8) and trace.gate.shape == (4, 9, 2)
    assert trace.reads.shape == (4, 9, 2, 5 + 3)                  # key and label parts of each head's read
    assert torch.allclose(trace.read_weights.sum(-1), torch.ones(4, 9, 2), atol=1e-5)
    # at t = 0 nothing has been read yet: the heads can only write to the R = 2 least used
    # slots, slots 0 and 1 of the all-zero usage vector (ties go to the lower index), each with
    # weight 1 - sigmoid(alpha) (w^lu has R ones, as in the paper)
    first = trace.write_weights[:, 0]
    assert torch.allclose(first[..., 2:], torch.zeros(4, 2, 6))
    assert torch.allclose(first[..., 0], 1 - trace.gate[:, 0], atol=1e-6)
    assert torch.allclose(first[..., 1], 1 - trace.gate[:, 0], atol=1e-6)
    # later: sigma * (read weights, sum 1) + (1 - sigma) * (R ones)
    gate = trace.gate[:, 1:]
    assert torch.allclose(trace.write_weights[:, 1:].sum(-1), gate + 2 * (1 - gate), atol=1e-5)
    assert torch.equal(model(x, delayed_one_hot(labels, 3)), logits)


def test_writes_go_to_the_least_used_slots_when_the_gate_is_closed():
    model = _model(num_reads=1)
    with torch.no_grad():                      # gate logit -> -50: always write to w^lu
        model.heads.weight[5].zero_()
        model.heads.bias[5] = -50.0
    x, labels = torch.randn(1, 6, 6), torch.randint(0, 3, (1, 6))
    _, trace = model(x, delayed_one_hot(labels, 3), return_trace=True)
    for t in range(1, 6):
        target = least_used(trace.usage[:, t - 1], 1)
        assert torch.allclose(trace.write_weights[:, t, 0], target, atol=1e-6)


def test_slots_hold_the_previous_key_next_to_the_label_that_followed_it():
    """store_labels (the default): with the gate closed, each step writes [k_{t-1}, y_{t-1}] into the
    least-used slot, which is zeroed first, and reads with [k_t, 0]; store_labels=False writes k_t."""
    for store_labels in (True, False):
        model = _model(num_reads=1, store_labels=store_labels)
        with torch.no_grad():                      # gate logit -> -50: write to w^lu only
            model.heads.weight[5].zero_()
            model.heads.bias[5] = -50.0
        assert model.slot_width == (5 + 3 if store_labels else 5)
        x, labels = torch.randn(1, 5, 6), torch.tensor([[0, 2, 1, 2, 0]])
        prev = delayed_one_hot(labels, 3)
        state = model.initial_state(1, "cpu")
        gates = model.controller_in(torch.cat([x, prev], dim=-1))
        heads_in = model.heads_input(x)                                      # [1, T, R*W + 2R]
        with torch.no_grad():
            for t in range(5):
                logits, new, info = model.step(gates[:, t], prev[:, t], state, heads_in[:, t])
                slot = int(least_used(state["usage"], 1).argmax())
                keys = new["keys"][0, 0]                                     # k_t  [W]
                if store_labels:
                    expected = torch.cat([state["keys"][0, 0], F.one_hot(labels[0, t - 1], 3).float()
                                          if t else torch.zeros(3)])
                    query = torch.cat([keys, torch.zeros(3)])
                else:
                    expected, query = keys, keys
                assert torch.allclose(new["memory"][0, slot], expected, atol=1e-6), (store_labels, t)
                strength = 1.0 + F.softplus(model.heads(new["h"])[:, 6:] + heads_in[:, t, 6:])
                assert torch.allclose(info["read_weights"], content_read(query.view(1, 1, -1), state["memory"], strength)[0],
                                      atol=1e-6)
                state = new
        with pytest.raises(ValueError, match="heads_in must be heads_input"):
            model.step(gates[:, 0], prev[:, 0], model.initial_state(1, "cpu"))


def test_the_heads_see_the_current_input_unless_told_otherwise():
    """input_to_heads (the default): the keys, gates and strengths change with the current input even
    when the controller's state and inputs do not; without it they depend on h_t alone."""
    for input_to_heads in (True, False):
        model = _model(input_to_heads=input_to_heads)
        assert (model.heads_input is not None) == input_to_heads
        with torch.no_grad():                     # a controller blind to x: its input weights on x zeroed
            model.controller_in.weight[:, :6].zero_()
        labels = delayed_one_hot(torch.randint(0, 3, (2, 4)), 3)
        x = torch.randn(2, 4, 6)
        _, first = model(x, labels, return_trace=True)
        _, second = model(x + torch.randn(2, 4, 6), labels, return_trace=True)
        moved = not torch.allclose(first.gate, second.gate)
        assert moved == input_to_heads


def test_image_encoder_path():
    model = MANN(input_size=16, n_way=2, controller_size=8, memory_slots=4, memory_width=3,
                 num_reads=1, encoder=DownsampleFlatten(4))
    images = torch.rand(2, 5, 1, 28, 28)
    assert model(images, torch.zeros(2, 5, 2)).shape == (2, 5, 2)


def test_bad_arguments():
    model = _model()
    with pytest.raises(ValueError, match="features"):
        model(torch.randn(2, 5, 7), torch.zeros(2, 5, 3))
    with pytest.raises(ValueError, match="prev_labels"):
        model(torch.randn(2, 5, 6), torch.zeros(2, 4, 3))
    with pytest.raises(ValueError, match="num_reads"):
        MANN(4, 2, memory_slots=3, num_reads=4)
    with pytest.raises(ValueError, match="gamma"):
        MANN(4, 2, gamma=1.5)


def train_tiny(model, steps=200, lr=3e-2, seed=0):
    """Train on 2-way, 2-instance episodes of random vectors (only in-episode binding helps);
    return the per-presentation accuracy on 256 fresh episodes."""
    sampler = PrototypeSequenceSampler(n_way=2, instances_per_class=2, dim=8, noise=0.1, seed=seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        sequence_step(model, optimizer, sampler.sample_batch(32), max_grad_norm=float("inf"))
    test = PrototypeSequenceSampler(n_way=2, instances_per_class=2, dim=8, noise=0.1, seed=99)
    return evaluate_sequences(model, test, 256, batch_size=256)["mean"]


@pytest.mark.parametrize("store_labels", [True, False])
def test_mann_learns_a_tiny_binding_task(store_labels):
    torch.manual_seed(0)
    model = MANN(8, 2, controller_size=24, memory_slots=6, memory_width=8, num_reads=1, store_labels=store_labels)
    untrained = train_tiny(model, steps=0)
    acc = train_tiny(model)
    # the second presentation can only be answered by remembering the first one's label
    assert untrained[1] < 0.7
    assert acc[1] > 0.8


def test_whole_read_and_write_match_their_parts():
    g = torch.Generator().manual_seed(5)
    keys, memory, strength = torch.randn(2, 3, 4, generator=g), torch.randn(2, 6, 4, generator=g), torch.rand(2, 3)
    weights, reads = content_read(keys, memory, strength)
    assert torch.equal(weights, content_read_weights(keys, memory, strength))
    assert torch.allclose(reads, torch.einsum("brs,bsw->brw", weights, memory), atol=1e-6)
    gate, usage = torch.randn(2, 3, generator=g), torch.rand(2, 6, generator=g)
    assert torch.equal(lrua_write(gate, weights, usage), lrua_write_weights(gate, weights, least_used(usage, 3)))


def test_read_and_write_functions_can_be_swapped():
    calls = {"read": 0, "write": 0}

    def read(keys, memory, strength):
        calls["read"] += 1
        assert strength.shape == keys.shape[:2]   # a tensor even without a learned key strength
        return content_read(keys, memory, strength)

    def write(gate_logit, prev_read, prev_usage):
        calls["write"] += 1
        return lrua_write(gate_logit, prev_read, prev_usage)

    x, labels = torch.randn(3, 7, 6), torch.randint(0, 3, (3, 7))
    for key_strength in (True, False):
        reference = _model(key_strength=key_strength)
        swapped = _model(key_strength=key_strength, read_fn=read, write_fn=write)
        assert torch.equal(swapped(x, delayed_one_hot(labels, 3)), reference(x, delayed_one_hot(labels, 3)))
    assert calls == {"read": 14, "write": 14}


def test_published_comparison_pairs_the_same_presentations(capsys):
    """Santoro et al. (2016), Table 1 has the 1st, 2nd, 3rd, 4th, 5th and 10th instance: our 4th and
    10th presentations sit under 92.6 / 61.0 and 98.1 / 62.5."""
    ours = {name: {"mean": torch.arange(1, 11) / 100.0, "ci": torch.zeros(10)} for name in ("MANN", "LSTM")}
    rows = dict(compare_with_published(ours))
    assert rows["MANN, this run"] == pytest.approx([1, 2, 3, 4, 5, 10])
    assert rows["MANN, Santoro et al. 2016"][3] == 92.6 and rows["MANN, Santoro et al. 2016"][5] == 98.1
    assert rows["LSTM, Santoro et al. 2016"][3] == 61.0 and rows["LSTM, Santoro et al. 2016"][5] == 62.5
    assert SANTORO_2016_TABLE1["MANN"][0] == 36.4 and SANTORO_2016_TABLE1["LSTM"][0] == 24.4
    header = capsys.readouterr().out.splitlines()[0]
    assert header.split()[-6:] == ["1st", "2nd", "3rd", "4th", "5th", "10th"]
    with pytest.raises(ValueError, match="10th"):
        compare_with_published({"MANN": {"mean": torch.ones(5), "ci": torch.zeros(5)}})


def test_chapter_recipe_is_reproducible_from_its_seed_and_records_the_gradient_norm(tmp_path):
    """make_sequence_learner + train_sequence_learner: the same seed gives the same run; another seed
    another one; every step records the gradient norm before clipping."""
    from course_lib.experiments.label_delay import make_sequence_learner, train_sequence_learner

    torch.set_num_threads(1)
    images = torch.rand(8, 10, 28, 28, generator=torch.Generator().manual_seed(0))

    def run(kind, seed):
        model = make_sequence_learner(kind, seed=seed)
        history = train_sequence_learner(model, images, 3, batch_size=2, seed=seed, progress=False)
        return model, history

    first, again, other = run("mann", 0), run("mann", 0), run("mann", 1)
    assert first[1]["loss"] == again[1]["loss"] and first[1]["loss"] != other[1]["loss"]
    assert all(g > 0 for g in first[1]["grad_norm"])
    lstm, history = run("lstm", 0)
    assert lstm.n_way == 5 and len(history["loss"]) == 3
    with pytest.raises(ValueError, match="kind must be 'mann' or 'lstm'"):
        make_sequence_learner("gru")


def test_chapter_mann_has_the_papers_memory_size_and_options_override_it():
    """The chapter's MANN has MANN_SIZE (128 slots, 4 heads, as in the paper); a MANN option given to
    make_sequence_learner replaces the default instead of clashing with it."""
    from course_lib.experiments.label_delay import MANN_SIZE, make_sequence_learner

    model = make_sequence_learner("mann")
    assert (model.memory_slots, model.num_reads) == (MANN_SIZE["memory_slots"], MANN_SIZE["num_reads"]) == (128, 4)
    smaller = make_sequence_learner("mann", memory_slots=64, read_first=False)
    assert smaller.memory_slots == 64 and not smaller.read_first
    # the weights do not depend on the number of slots: which is why chapter 06 names its checkpoints by it
    assert {k: v.shape for k, v in smaller.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}


def test_key_strength_and_write_gate_start_at_their_initial_values_and_reject_unreachable_ones():
    """beta = 1 + softplus(bias) at initialisation, whatever the controller's state contributes through
    the weights (zero state: exactly the bias)."""
    import torch.nn.functional as F

    model = MANN(4, 2, controller_size=8, memory_slots=6, memory_width=3, num_reads=2, initial_strength=10.0)
    r, w = model.num_reads, model.memory_width
    beta = 1.0 + F.softplus(model.heads.bias[r * w + r:])
    assert torch.allclose(beta, torch.full((r,), 10.0))
    with pytest.raises(ValueError, match="initial_strength must be > 1"):
        MANN(4, 2, initial_strength=1.0)
    MANN(4, 2, key_strength=False, initial_strength=1.0)  # ignored without a learned strength
    gate = torch.sigmoid(model.heads.bias[r * w: r * w + r])
    assert torch.allclose(gate, torch.full((r,), 0.1))
    with pytest.raises(ValueError, match="initial_gate"):
        MANN(4, 2, initial_gate=1.0)


def _tiny_images():
    return torch.rand(8, 10, 28, 28, generator=torch.Generator().manual_seed(0))


def test_runs_in_worker_processes_equal_the_same_runs_in_this_process(tmp_path):
    """train_over_seeds with 2 one-thread processes gives, run by run, exactly the parameters and losses of
    the same runs made one after the other here on one thread; checkpoints make a second call a reload."""
    from course_lib.experiments.sequence_seeds import train_over_seeds

    torch.set_num_threads(1)
    recipe = {"batch_size": 2, "instances": 3}
    here = train_over_seeds(("mann", "lstm"), (0, 1), _tiny_images(), 3, workers=1, **recipe)
    names = lambda kind, seed: tmp_path / f"{kind}_{seed}.pt"  # noqa: E731
    there = train_over_seeds(("mann", "lstm"), (0, 1), _tiny_images(), 3, workers=2, checkpoint_name=names, **recipe)
    assert sorted(there) == [("lstm", 0), ("lstm", 1), ("mann", 0), ("mann", 1)]
    for key, (model, history) in here.items():
        other_model, other_history = there[key]
        assert history["loss"] == other_history["loss"]
        for a, b in zip(model.state_dict().values(), other_model.state_dict().values()):
            assert torch.equal(a, b)
    assert here["mann", 0][1]["loss"] != here["mann", 1][1]["loss"]
    assert all(names(k, s).exists() for k, s in there)
    again = train_over_seeds(("mann",), (1,), _tiny_images(), 3, workers=1, checkpoint_name=names, **recipe)
    assert again["mann", 1][1]["loss"] == there["mann", 1][1]["loss"]


def test_an_interrupted_run_keeps_its_checkpoint_and_raises_instead_of_returning_half_a_model(tmp_path):
    from course_lib.experiments.sequence_seeds import train_one_seed

    calls = []

    def report(done):
        calls.append(done)
        if len(calls) == 3:
            raise KeyboardInterrupt

    path = tmp_path / "mann.pt"
    with pytest.raises(KeyboardInterrupt, match="mann seed 0 interrupted"):
        train_one_seed("mann", 0, _tiny_images(), 5, batch_size=2, instances=3, checkpoint_path=path, report=report)
    assert path.exists() and calls == [0, 1, 2]
    state, history = train_one_seed("mann", 0, _tiny_images(), 5, batch_size=2, instances=3, checkpoint_path=path)
    full_state, full_history = train_one_seed("mann", 0, _tiny_images(), 5, batch_size=2, instances=3)
    assert history["records"]["loss"] == full_history["records"]["loss"]
    assert all(torch.equal(state[k], full_state[k]) for k in state)


def test_run_in_processes_rejects_empty_jobs_and_bad_worker_counts():
    from course_lib.experiments.parallel_runs import run_in_processes

    with pytest.raises(ValueError, match="jobs is empty"):
        run_in_processes(print, [], total_steps=0)
    with pytest.raises(ValueError, match="workers must be >= 1"):
        run_in_processes(print, [{}], total_steps=0, workers=0)


def test_over_seeds_gives_the_mean_and_the_student_t_interval_over_runs():
    from course_lib.experiments.sequence_seeds import over_seeds
    from course_lib.metrics import mean_ci

    runs = [{"mean": torch.tensor([0.3, 0.5 + d]), "ci": torch.zeros(2), "loss": torch.tensor(1.0 + d)}
            for d in (0.0, 0.1, 0.3)]
    combined = over_seeds(runs)
    mean, half = mean_ci([0.5, 0.6, 0.8])
    assert combined["mean"][1].item() == pytest.approx(mean) and combined["ci"][1].item() == pytest.approx(half)
    assert combined["ci"][0].item() == 0.0 and combined["per_seed"].shape == (3, 2)
    assert combined["loss"].item() == pytest.approx(1 + 0.4 / 3)
    with pytest.raises(ValueError, match="at least 2 runs"):
        over_seeds(runs[:1])
