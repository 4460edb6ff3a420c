"""The personalised-learning case study as one pipeline, for any dataset in the three-line format.

``run_case_study(train, test)`` does what chapter 07 does step by step: split the training
students into meta-training and validation students, fit every method (skill success rate, global
IRT, prototype students, MAML, Reptile, DKT, DKVMN), tune the baselines' step sizes on the
validation students, and evaluate the cold-start curve (AUC and accuracy after k answers) and the
standard knowledge-tracing AUC on the test students. ``SETTINGS`` holds what changes with the
budget (steps, number of test students, bootstrap draws); ``COMMON`` the rest. Every function can
be called alone, as the chapter does::

    train, test = load_kt_splits("mine_train.csv", "mine_test.csv")
    result = run_case_study(train, test, budget="smoke")
    print(format_cold_start(result["cold_start"]))
"""

from __future__ import annotations

import torch

from course_lib.edu.baselines import (SkillRateBaseline, fine_tune_ability, fit_from_scratch, fit_global_irt,
                                      select_on_validation)
from course_lib.edu.batching import check_skill_range
from course_lib.edu.dkt import DKT
from course_lib.edu.dkvmn import DKVMN
from course_lib.edu.evaluation import cold_start_evaluation, standard_kt_evaluation
from course_lib.edu.kt_training import fit_kt
from course_lib.edu.personalized import (ColdStartSampler, PersonalizedStudentModel, maml_train, reptile_predict,
                                         reptile_train)
from course_lib.edu.prototypes import PrototypeStudents
from course_lib.edu.splits import cold_start_view, split_students
from course_lib.edu.student_model import student_logits
from course_lib.runtime import get_budget

# What the budget changes. n_test_students None = all; *_steps: optimiser steps; kt_evals: validations per KT run.
SETTINGS = {
    "smoke": dict(n_test_students=150, n_boot=50, irt_steps=30, prototype_iters=10, maml_steps=60, reptile_steps=30,
                  dkt_steps=8, dkvmn_steps=5, kt_evals=2),
    "standard": dict(n_test_students=None, n_boot=300, irt_steps=200, prototype_iters=30, maml_steps=1000,
                     reptile_steps=300, dkt_steps=200, dkvmn_steps=500, kt_evals=10),
    "full": dict(n_test_students=None, n_boot=1000, irt_steps=500, prototype_iters=60, maml_steps=3000,
                 reptile_steps=1000, dkt_steps=3000, dkvmn_steps=3000, kt_evals=30),
}
# The same at every budget: protocol, model sizes (the DKVMN paper's for ASSIST2009), grids, CPU threads.
COMMON = dict(
    val_fraction=0.15, ks=(0, 1, 3, 5, 10, 20), query_len=50, tune_k=5,
    rank=4, num_prototypes=8, inner_lr=1.0, inner_steps=5, meta_batch=64, maml_lr=1e-2, reptile_outer_lr=0.3,
    finetune_lr_grid=(0.03, 0.1, 0.3, 1.0), scratch_l2_grid=(0.01, 0.1, 1.0), reptile_lr_grid=(0.03, 0.1, 0.3, 1.0),
    dkt=dict(hidden_size=200), dkvmn=dict(memory_size=20, key_dim=50, value_dim=200, summary_dim=50),
    kt_lr={"DKT": 2e-3, "DKVMN": 5e-3}, kt_batch=32, max_len=200,
    threads={"DKT": 1, "DKVMN": 1},
)


def case_study_settings(budget: str | None = None, **overrides) -> dict:
    """``COMMON`` + ``SETTINGS[budget]`` (default: ``COURSE_BUDGET``), with ``overrides`` of known keys."""
    budget = budget or get_budget()
    settings = {**COMMON, **SETTINGS[budget], "budget": budget}
    unknown = sorted(set(overrides) - set(settings))
    if unknown:
        raise ValueError(f"unknown case-study settings {unknown}; known: {sorted(settings)}")
    settings.update(overrides)
    return settings


def _no_checkpoint(name):
    return None


def fit_population_models(train, settings: dict, device=None, checkpoint=_no_checkpoint) -> dict:
    """The models without per-student adaptation: skill success rate, global IRT, prototype students.

    ``checkpoint(name) -> path or None`` names each training run's checkpoint file.
    """
    num_skills = train.num_skills
    return {"skill_rate": SkillRateBaseline(num_skills).fit(train.sequences),
            "irt": fit_global_irt(train.sequences, num_skills, rank=settings["rank"], num_steps=settings["irt_steps"],
                                  device=device, checkpoint_path=checkpoint("irt")),
            "prototypes": PrototypeStudents(num_skills, settings["num_prototypes"]).fit(
                train.sequences, num_iters=settings["prototype_iters"])}


def fit_meta_learners(irt, train, settings: dict, device=None, checkpoint=_no_checkpoint) -> dict:
    """MAML (personal ability, learned step sizes) and Reptile, both starting from the global IRT fit.

    Meta-training tasks: the training students with more than ``max(ks)`` answers; support = their
    first k answers, query = the next ``query_len``. Returns the models and their histories.
    """
    top = max(settings["ks"])
    pool = cold_start_view(train, k=top, query_start=top, query_len=settings["query_len"])
    k_choices = sorted({0, 1, 2, 3, 5, 8, 10, 15, top} & set(range(top + 1)))
    maml = PersonalizedStudentModel.from_global(irt, inner_lr=settings["inner_lr"], inner_steps=settings["inner_steps"],
                                                learn_inner_lr=True)
    maml_history = maml_train(maml, ColdStartSampler(pool, k_choices, settings["meta_batch"], seed=0),
                              settings["maml_steps"], lr=settings["maml_lr"], device=device,
                              checkpoint_path=checkpoint("maml"))
    reptile = PersonalizedStudentModel.from_global(irt, inner_lr=settings["inner_lr"],
                                                   inner_steps=settings["inner_steps"])
    reptile_history = reptile_train(reptile, ColdStartSampler(pool, [top], settings["meta_batch"], seed=1),
                                    settings["reptile_steps"], outer_lr=settings["reptile_outer_lr"], device=device,
                                    checkpoint_path=checkpoint("reptile"))
    return {"maml": maml, "reptile": reptile, "maml_history": maml_history, "reptile_history": reptile_history,
            "pool": pool}


def fit_knowledge_tracers(train, val, settings: dict, device=None, checkpoint=_no_checkpoint) -> dict:
    """DKT and DKVMN trained on ``train``, validated ``kt_evals`` times on ``val``; each keeps its best weights.

    Returns ``{"DKT": model, "DKVMN": model, "histories": {name: History}}``; a history's
    ``best_step`` and ``best_val_auc`` say which weights were kept.
    """
    out = {"histories": {}}
    for name, cls, steps in (("DKT", DKT, settings["dkt_steps"]), ("DKVMN", DKVMN, settings["dkvmn_steps"])):
        torch.manual_seed(0)
        model = cls(train.num_skills, **settings[name.lower()])
        out["histories"][name] = fit_kt(model, train.sequences, steps, batch_size=settings["kt_batch"],
                                        lr=settings["kt_lr"][name], max_len=settings["max_len"], device=device,
                                        val_sequences=val.sequences,
                                        eval_every=max(1, steps // settings["kt_evals"]),
                                        num_threads=settings["threads"][name], checkpoint_path=checkpoint(name.lower()))
        out[name] = model.eval()
    return out


def tune_baselines(models: dict, val, settings: dict, device=None) -> dict:
    """Step sizes and regularisation of the baselines, chosen by AUC on validation students at k = ``tune_k``.

    Returns ``{"fine-tune lr" | "from-scratch l2" | "Reptile lr": (best, {candidate: val AUC})}``.
    """
    top = max(settings["ks"])
    view = cold_start_view(val, k=settings["tune_k"], query_start=top, query_len=settings["query_len"]).to(
        device or "cpu")
    irt, num_skills = models["irt"], val.num_skills

    def fine_tune(lr, t):
        ability = fine_tune_ability(irt.shared, t.support_skills, t.support_correct, steps=5, lr=lr, l2=irt.l2)
        return student_logits(irt.shared, ability, t.query_skills)

    return {"fine-tune lr": select_on_validation(fine_tune, settings["finetune_lr_grid"], view),
            "from-scratch l2": select_on_validation(
                lambda l2, t: fit_from_scratch(t.support_skills, t.support_correct, t.query_skills, num_skills, l2=l2),
                settings["scratch_l2_grid"], view),
            "Reptile lr": select_on_validation(lambda lr, t: reptile_predict(models["reptile"], t, lr=lr),
                                               settings["reptile_lr_grid"], view)}


def cold_start_predictors(models: dict, choices: dict, num_skills: int) -> dict:
    """name -> function(ColdStartTasks) -> probabilities [B, Q] of a correct answer, for every method."""
    irt, sig = models["irt"], torch.sigmoid
    finetune_lr, scratch_l2, reptile_lr = (choices[k][0] for k in ("fine-tune lr", "from-scratch l2", "Reptile lr"))
    return {
        "skill success rate": lambda t: models["skill_rate"].predict(t.query_skills),
        "global IRT (k ignored)": lambda t: sig(irt.predict_new(t.query_skills)),
        # a per-student model fitted on the k answers alone; with k = 0 it predicts 1/2 for everything
        "per-student from scratch": lambda t: sig(fit_from_scratch(t.support_skills, t.support_correct,
                                                                   t.query_skills, num_skills, l2=scratch_l2)),
        "fine-tuned IRT": lambda t: sig(student_logits(irt.shared, fine_tune_ability(
            irt.shared, t.support_skills, t.support_correct, steps=5, lr=finetune_lr, l2=irt.l2), t.query_skills)),
        "MAML (personal ability)": lambda t: sig(models["maml"].predict(t)),
        "Reptile": lambda t: sig(reptile_predict(models["reptile"], t, lr=reptile_lr)),
        "prototype students": lambda t: models["prototypes"].predict(t.support_skills, t.support_correct,
                                                                     t.query_skills),
        "DKT": lambda t: sig(models["DKT"].predict_after(t.support_skills, t.support_correct, t.query_skills)),
        "DKVMN": lambda t: sig(models["DKVMN"].predict_after(t.support_skills, t.support_correct, t.query_skills)),
    }


def format_cold_start(evaluation: dict, metric: str = "auc") -> str:
    """A text table of ``metric`` ("auc" or "accuracy") by method and k, three decimals.

    The accuracy table ends with the majority-class rate of the query answers (the accuracy of
    always predicting the more frequent answer), the same at every k.
    """
    ks = evaluation["ks"]
    lines = [f"{metric + ' after k answers':30s}" + "".join(f"{f'k={k}':>8s}" for k in ks)]
    for name, metrics in evaluation["curve"].items():
        lines.append(f"{name:30s}" + "".join(f"{p['value']:8.3f}" for p in metrics[metric]))
    if metric == "accuracy":
        majority = evaluation["majority"]
        lines.append(f"{'majority-class rate':30s}{majority['value']:8.3f}  "
                     f"(95% CI {majority['low']:.3f}-{majority['high']:.3f}), at every k")
    return "\n".join(lines)


def run_case_study(train, test, budget: str | None = None, device=None, checkpoint=_no_checkpoint,
                   **overrides) -> dict:
    """The whole case study on ``train`` and ``test`` (KTDatasets sharing one skill space).

    Returns ``{"settings", "models", "choices", "cold_start", "standard", "n_test_students"}``:
    ``cold_start`` from :func:`~course_lib.edu.evaluation.cold_start_evaluation`, ``standard``
    = ``{"DKT" | "DKVMN": standard_kt_evaluation(...)}``.
    """
    settings = case_study_settings(budget, **overrides)
    check_skill_range(test.sequences, train.num_skills)
    fraction = settings["val_fraction"]
    splits = split_students(train, {"train": 1 - fraction, "val": fraction}, seed=0)
    models = fit_population_models(splits["train"], settings, device, checkpoint)
    models.update(fit_meta_learners(models["irt"], splits["train"], settings, device, checkpoint))
    models.update(fit_knowledge_tracers(splits["train"], splits["val"], settings, device, checkpoint))
    choices = tune_baselines(models, splits["val"], settings, device)
    n_test = settings["n_test_students"] or len(test)
    test_eval = test.subset(range(min(n_test, len(test))))
    predictors = cold_start_predictors(models, choices, train.num_skills)
    evaluation = cold_start_evaluation(predictors, test_eval, settings["ks"], settings["query_len"],
                                       n_boot=settings["n_boot"], device=device)
    standard = {name: standard_kt_evaluation(models[name], test_eval.sequences, n_boot=settings["n_boot"],
                                             max_len=settings["max_len"], device=device) for name in ("DKT", "DKVMN")}
    return {"settings": settings, "models": models, "choices": choices, "cold_start": evaluation,
            "standard": standard, "n_test_students": len(test_eval)}
