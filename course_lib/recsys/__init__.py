"""Cold-start recommendation with every user as a task (chapter 08, MovieLens).

* :mod:`course_lib.recsys.tasks` — split by user, cold-start views (support = first k ratings in
  time order, query = later ones), item features, the meta-batch sampler.
* :mod:`course_lib.recsys.baselines` — global mean, shrunk item mean, popularity.
* :mod:`course_lib.recsys.mf` — biased matrix factorisation and the closed-form fold-in of a new user.
* :mod:`course_lib.recsys.melu` — MeLU-style MAML / first-order MAML and the fine-tuned baseline.
* :mod:`course_lib.recsys.prototypes` — prototype users (metric-based).
* :mod:`course_lib.recsys.evaluation` — RMSE, MAE, nDCG@10 with intervals over users.
"""
