"""Chinese text of course_lib.exercises.ch07 (personalised learning): verdicts, problems and hints."""

MESSAGES = {
    "Exercise 7.1": "练习 7.1",
    "shuffle the list of students, cut it at round(test_fraction * n), and keep every sequence whole":
        "打乱学生列表，在 round(test_fraction * n) 处切开，并保持每条序列完整",
    "return a pair (train, test) of datasets or lists": "请返回一个由数据集或列表组成的二元组 (train, test)",
    "{count} students appear in both sets: their answers were split, so the test set no longer "
    "contains new students":
        "有 {count} 名学生同时出现在两个集合中：他们的作答被拆开了，所以测试集里不再是新学生",
    "some students were lost or invented": "有些学生丢失了，或者凭空多出了学生",
    "some students lost part of their answers": "有些学生丢失了部分作答",
    "the test set has {n_test} of {n} students, expected about 25 %":
        "测试集包含 {n} 名学生中的 {n_test} 名，应约为 25 %",
    "whole students, disjoint sets, right size": "按整个学生划分，集合互不相交，大小正确",
    "M~(i) = M(i) * (1 - w(i) e), then M'(i) = M~(i) + w(i) a; w is [B, N], e and a are [B, d_v]: "
    "use w.unsqueeze(-1) and e.unsqueeze(1) to broadcast to [B, N, d_v]":
        "M~(i) = M(i) * (1 - w(i) e)，然后 M'(i) = M~(i) + w(i) a；w 的形状是 [B, N]，e 和 a "
        "的形状是 [B, d_v]：用 w.unsqueeze(-1) 和 e.unsqueeze(1) 广播到 [B, N, d_v]",
    "you add before erasing: DKVMN erases first, so the new content survives":
        "你先添加后擦除了：DKVMN 先擦除，这样新内容才能保留下来",
    "the add is not weighted by w: every slot receives the whole add vector, whatever the question; "
    "multiply it by w(i)":
        "添加没有用 w 加权：无论是哪道题，每个记忆槽都收到了完整的添加向量；请乘以 w(i)",
    "the erase is not weighted by w: every slot is erased as much as the addressed one; erase w(i) e":
        "擦除没有用 w 加权：每个记忆槽都被擦除得和被寻址的那个一样多；应擦除 w(i) e",
    "you keep w(i) e of the old content: the erase vector says what to REMOVE, so keep (1 - w(i) e)":
        "你保留了旧内容的 w(i) e：擦除向量表示的是要去掉多少，所以应保留 (1 - w(i) e)",
    "nothing is erased: the old content is kept in full before adding":
        "什么也没擦除：添加之前旧内容被完整保留了",
    "Exercise 7.4": "练习 7.4",
    "Bayes' rule first: P(L | correct) = P(L)(1-s) / [P(L)(1-s) + (1-P(L)) g], and with s, 1-g for a "
    "wrong answer; then learning: P(L') = post + (1 - post) * learn":
        "先用贝叶斯公式：P(L | correct) = P(L)(1-s) / [P(L)(1-s) + (1-P(L)) g]，答错时改用 s 和 1-g；"
        "然后是学习：P(L') = post + (1 - post) * learn",
    "you return the posterior but forgot the learning transition": "你返回了后验概率，但忘了学习转移",
    "you applied the learning transition before Bayes' rule: the answer is evidence about the skill "
    "BEFORE this question's practice; update on it first":
        "你在贝叶斯公式之前就做了学习转移：这次作答是关于学生在做这道题之前对该技能掌握情况的证据；"
        "请先用它更新",
    "guess and slip are swapped: a student who knows the skill answers correctly with probability 1 "
    "- slip, one who does not with probability guess":
        "guess 和 slip 弄反了：掌握该技能的学生答对的概率是 1 - slip，未掌握的学生答对的概率是 guess",
    "the answer is ignored: a wrong answer needs its own likelihoods, slip if known and 1 - guess if "
    "not":
        "作答结果被忽略了：答错需要用它自己的似然，已掌握时为 slip，未掌握时为 1 - guess",
    "Exercise 7.5": "练习 7.5",
    "the information is minus the (expected) second derivative in theta of the log-likelihood of one "
    "answer, y log p + (1-y) log(1-p), with p = sigmoid(theta - d); use dp/dtheta = p(1 - p)":
        "信息量是单次作答的对数似然 y log p + (1-y) log(1-p) 对 theta 的二阶导数（的期望）取负，其中 "
        "p = sigmoid(theta - d)；利用 dp/dtheta = p(1 - p)",
    "you returned p, the probability of a correct answer; the information is its variance p(1 - p)":
        "你返回的是 p，即答对的概率；信息量是它的方差 p(1 - p)",
    "the sign: the information is MINUS the second derivative of the log-likelihood, so it is "
    "positive":
        "符号问题：信息量是对数似然二阶导数的相反数，所以它是正的",
    "the sign of the difficulty: p = sigmoid(theta - d), a harder item (larger d) is answered "
    "correctly less often":
        "难度的符号：p = sigmoid(theta - d)，越难的题目（d 越大）答对的次数越少",
    "Exercise 7.6": "练习 7.6",
}
