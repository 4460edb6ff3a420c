"""Education case study: knowledge tracing, personalization, simulated students, tutor."""

from course_lib.edu.baselines import (GlobalIRT, SkillRateBaseline, fine_tune_ability, fit_from_scratch,
                                      fit_global_irt, grid_edge, select_on_validation)
from course_lib.edu.case_study import case_study_settings, format_cold_start, run_case_study
from course_lib.edu.dkt import DKT
from course_lib.edu.dkvmn import DKVMN
from course_lib.edu.evaluation import (cold_start_evaluation, compare_methods, kt_metrics, majority_rate,
                                       predict_sequences, standard_kt_evaluation)
from course_lib.edu.kt_training import BestOnValidation, fit_kt
from course_lib.edu.personalized import (ColdStartSampler, PersonalizedStudentModel, maml_train, reptile_predict,
                                         reptile_train)
from course_lib.edu.prototypes import PrototypeStudents
from course_lib.edu.simulated import BKTPopulation, BKTStudents, bkt_update, simulate_irt, to_three_line
from course_lib.edu.splits import ColdStartTasks, assert_disjoint, cold_start_view, split_students
from course_lib.edu.tutor import (FixedCurriculum, IndividualizedBKT, MasteryPolicy, PopulationBKT, RandomPolicy,
                                  compare_policies, run_tutor)

__all__ = [
    "BKTPopulation", "BKTStudents", "BestOnValidation", "ColdStartSampler", "ColdStartTasks", "DKT", "DKVMN",
    "FixedCurriculum", "GlobalIRT", "IndividualizedBKT", "MasteryPolicy", "PersonalizedStudentModel", "PopulationBKT",
    "PrototypeStudents", "RandomPolicy", "SkillRateBaseline", "assert_disjoint", "bkt_update", "case_study_settings",
    "cold_start_evaluation", "cold_start_view", "compare_methods", "compare_policies", "fine_tune_ability",
    "fit_from_scratch", "fit_global_irt", "fit_kt", "format_cold_start", "grid_edge", "kt_metrics", "majority_rate",
    "maml_train", "predict_sequences", "reptile_predict", "reptile_train", "run_case_study", "run_tutor",
    "select_on_validation", "simulate_irt", "split_students", "standard_kt_evaluation", "to_three_line",
]
