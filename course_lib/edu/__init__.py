"""Education case study: knowledge tracing, personalization, simulated students, tutor."""

from course_lib.edu.baselines import (GlobalIRT, SkillRateBaseline, fine_tune_ability, fit_from_scratch,
                                      fit_global_irt, select_on_validation)
from course_lib.edu.dkt import DKT
from course_lib.edu.dkvmn import DKVMN
from course_lib.edu.evaluation import (bootstrap_auc, cold_start_curve, kt_metrics, paired_bootstrap_difference,
                                       plot_cold_start, predict_sequences)
from course_lib.edu.kt_training import fit_kt
from course_lib.edu.personalized import (ColdStartSampler, PersonalizedStudentModel, maml_train, reptile_predict,
                                         reptile_train)
from course_lib.edu.prototypes import PrototypeStudents
from course_lib.edu.simulated import BKTPopulation, BKTStudents, bkt_update, simulate_irt, to_three_line
from course_lib.edu.splits import ColdStartTasks, assert_disjoint, cold_start_view, split_students
from course_lib.edu.tutor import (FixedCurriculum, IndividualizedBKT, MasteryPolicy, PopulationBKT, RandomPolicy,
                                  compare_policies, run_tutor)

__all__ = [
    "BKTPopulation", "BKTStudents", "ColdStartSampler", "ColdStartTasks", "DKT", "DKVMN", "FixedCurriculum",
    "GlobalIRT", "IndividualizedBKT", "MasteryPolicy", "PersonalizedStudentModel", "PopulationBKT",
    "PrototypeStudents", "RandomPolicy", "SkillRateBaseline", "assert_disjoint", "bkt_update", "bootstrap_auc",
    "cold_start_curve", "cold_start_view", "compare_policies", "fine_tune_ability", "fit_from_scratch",
    "fit_global_irt", "fit_kt", "kt_metrics", "maml_train", "paired_bootstrap_difference", "plot_cold_start",
    "predict_sequences", "reptile_predict", "reptile_train", "run_tutor", "select_on_validation", "simulate_irt",
    "split_students", "to_three_line",
]
