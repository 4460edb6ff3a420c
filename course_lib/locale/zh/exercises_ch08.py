"""Chinese text of course_lib.exercises.ch08 (cold-start recommendation): verdicts, problems and hints."""

MESSAGES = {
    "Exercise 8.1": "练习 8.1",
    "draw the TEST USERS (np.unique of user, a seeded permutation, the first round(test_fraction * "
    "n)), then mark every rating of those users: np.isin(user, test_users)":
        "先抽取测试用户（对 user 取 np.unique，做一次带随机种子的置换，取前 round(test_fraction * n) "
        "个），再标记这些用户的每一条评分：np.isin(user, test_users)",
    "return one bool per rating, shape {want}; got {dtype} of shape {got}":
        "请为每条评分返回一个 bool，形状为 {want}；实际得到形状为 {got} 的 {dtype}",
    "{count} users have ratings on both sides: you split ratings, not users, so the test users are "
    "not new (their other ratings trained the model)":
        "有 {count} 名用户的评分同时出现在两边：你划分的是评分而不是用户，"
        "所以测试用户并不是新用户（他们的其他评分训练过模型）",
    "{n_test} of the 40 users are test users; expected 10 (25 %)":
        "40 名用户中有 {n_test} 名是测试用户；应为 10 名（25 %）",
    "two calls with the same seed gave different splits: use a seeded generator, e.g. "
    "np.random.default_rng(seed)":
        "用同一个随机种子调用两次，得到了不同的划分：请使用带随机种子的生成器，例如 "
        "np.random.default_rng(seed)",
    "seeds 0 and 1 give the same split: the seed is not used":
        "随机种子 0 和 1 给出相同的划分：随机种子没有被用上",
    "whole users, the right number, reproducible from the seed": "按整个用户划分，数量正确，可由随机种子复现",
    "Exercise 8.2": "练习 8.2",
    "sort the movies by score (highest first); DCG@k = sum over the first k ranks r = 1, 2, ... of "
    "rating / log2(r + 1); divide by the DCG@k of the movies sorted by their true rating":
        "按得分给电影排序（最高的在前）；DCG@k = 对前 k 个名次 r = 1, 2, ... 求 rating / log2(r + 1) "
        "之和；再除以按真实评分排序时的 DCG@k",
    "this is DCG@k: divide by the DCG@k of the ideal order, so that a perfect ranking scores 1":
        "这是 DCG@k：请除以理想排序的 DCG@k，使完美的排序得分为 1",
    "you ranked the lowest scores first: recommend the highest scores first (sort by -score)":
        "你把得分最低的排在了前面：应先推荐得分最高的（按 -score 排序）",
    "you used the gain 2^rating - 1; this chapter uses the rating itself as the gain":
        "你用的增益是 2^rating - 1；本章直接用评分本身作为增益",
    "you summed over every rank: nDCG@k counts only the first k ranks, in both DCGs":
        "你对所有名次都求了和：nDCG@k 只计入前 k 个名次，两个 DCG 都是如此",
    "Exercise 8.3": "练习 8.3",
    "X = [1, q_i] row by row ([k, 1 + d], a column of ones first, for the bias); solve (X^T X + reg "
    "* I) theta = X^T y with torch.linalg.solve":
        "X 的每一行是 [1, q_i]（[k, 1 + d]，第一列全为 1，对应偏置）；用 torch.linalg.solve 求解 "
        "(X^T X + reg * I) theta = X^T y",
    "no regularisation: with k < 1 + d ratings X^T X is singular and the unregularised solution "
    "overfits one or two ratings; add reg * I":
        "没有正则化：评分数 k < 1 + d 时 X^T X 是奇异的，不加正则化的解会对一两条评分过拟合；请加上 "
        "reg * I",
    "reg was added to EVERY entry of X^T X; add it to the diagonal only: reg * torch.eye(1 + d)":
        "reg 被加到了 X^T X 的每一个元素上；应只加在对角线上：reg * torch.eye(1 + d)",
    "you centred the residuals: the bias b_u is what absorbs their mean, leave y as it is":
        "你把残差中心化了：吸收残差均值的正是偏置 b_u，请让 y 保持原样",
}
